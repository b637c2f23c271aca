"""Where a token key version is still in use, so that `cardlake keys retire` never deletes a
version that published snapshots or warehouse tables still hold tokens of."""

from __future__ import annotations

from pathlib import Path

from google.api_core.exceptions import GoogleAPICallError, NotFound
from google.auth.exceptions import GoogleAuthError

from etl.contracts.manifest import TableManifest, load_manifest, manifest_dir, manifest_for
from etl.errors import CardlakeError
from etl.lake.snapshot import BUSINESS_DATE, current_snapshots
from etl.lake.store import Store
from etl.load import warehouse
from etl.settings import WarehouseSettings
from masking.policy import key_version_column

CHECK_TIMEOUT_S = 60.0


def _version_columns(manifest: TableManifest, name: str) -> list[str]:
    """The `<col>_token_key_version` columns of a table whose tokens use key `name`."""
    return [
        key_version_column(p.name)
        for p in manifest.columns.values()
        if p.action == "token" and p.key_name == name
    ]


def snapshot_holders(name: str, version: int, lake: Store | str | Path) -> list[str]:
    """Published snapshots under the lake whose tokens may be of key `name` v`version`.

    A snapshot records its key versions (Snapshot.tokenization). One published before they
    were recorded counts as a holder when its table's tokens use the key (or its manifest
    cannot be read): its versions are unknown.
    """
    held = []
    for snapshot in current_snapshots(lake):
        recorded = snapshot.tokenization.get(name)
        if recorded == version:
            held.append(f"the published snapshot of {snapshot.table} (run {snapshot.run_id})")
        elif recorded is None and not snapshot.tokenization:
            try:
                uses_key = bool(_version_columns(manifest_for(snapshot.table), name))
            except CardlakeError:
                uses_key = True
            if uses_key:
                held.append(
                    f"the published snapshot of {snapshot.table} (run {snapshot.run_id}, "
                    "which records no key versions: run the table again)"
                )
    return held


def warehouse_holders(name: str, version: int, settings: WarehouseSettings) -> list[str]:
    """Raw tables whose `<col>_token_key_version` columns hold key `name` v`version`.

    Raises CardlakeError when the warehouse cannot be queried: a version is never judged
    unused without looking.
    """
    tables = [load_manifest(path) for path in sorted(manifest_dir().glob("*.yaml"))]
    targets = [(m.table, _version_columns(m, name)) for m in tables]
    held = []
    try:
        bq = warehouse.client(settings)
        for table_name, columns in targets:
            if not columns:
                continue
            table_id = f"{settings.project}.{settings.raw_dataset}.{table_name}"
            try:
                table = bq.get_table(table_id, timeout=CHECK_TIMEOUT_S)
            except NotFound:
                continue
            present = {f.name for f in table.schema}
            # Naming every partition satisfies require_partition_filter.
            where = ""
            if table.time_partitioning is not None and BUSINESS_DATE in present:
                where = (
                    f" where `{BUSINESS_DATE}` >= date '0001-01-01' or `{BUSINESS_DATE}` is null"
                )
            for column in (c for c in columns if c in present):
                rows = bq.query(
                    f"select distinct `{column}` from `{table_id}`{where}", timeout=CHECK_TIMEOUT_S
                ).result(timeout=CHECK_TIMEOUT_S)
                versions = sorted(int(row[0]) for row in rows if row[0] is not None)
                if version in versions:
                    held.append(f"{table_id}.{column} (holds v{', v'.join(map(str, versions))})")
    except (CardlakeError, GoogleAPICallError, GoogleAuthError, OSError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CardlakeError(
            f"cannot retire {name} v{version}: the warehouse's raw tables could not be checked "
            f"for it ({detail}); nothing was retired"
        ) from None
    return held


def check_unused(
    name: str, version: int, lake: Store | str | Path, settings: WarehouseSettings
) -> None:
    """Refuse (CardlakeError) while any published snapshot or raw table holds the version."""
    held = snapshot_holders(name, version, lake) + warehouse_holders(name, version, settings)
    if held:
        raise CardlakeError(
            f"{name} v{version} is still in use by {'; '.join(held)}: run `cardlake run --all` "
            "(each table whose tokens use an older version re-tokenizes every row), then "
            "retire it; nothing was retired"
        )
