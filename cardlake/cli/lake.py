"""`cardlake scan` and `cardlake keys`: the masking promise, checked and kept."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from cardlake.cli.output import print_table
from cardlake.cli.params import positive_int
from etl.errors import CardlakeError, Finding

if TYPE_CHECKING:
    from masking.keys import StoredKeys

keys_app = typer.Typer(
    help="Show, rotate or retire the token keys (file and aws-secretsmanager providers)."
)


def scan(
    path: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="PATH",
            help="Parquet datasets: directories, s3:// or gs:// locations",
            show_default="every published snapshot's runs",
        ),
    ] = None,
) -> None:
    """Count rows holding a Luhn-valid PAN in Parquet (never prints them; exit 1 on a hit)."""
    from etl.lake.snapshot import current_snapshots
    from etl.lake.store import Store
    from etl.settings import lake_location

    missing = [p for p in path or [] if not Store(p).exists("")]
    if missing:
        raise CardlakeError(f"nothing to scan at {', '.join(missing)}: no such file or directory")
    paths = list(path or [])
    if not paths:
        lake = Store(lake_location())
        lake.check_reachable()
        # Every run the published snapshots are made of, not only their newest.
        paths = [
            f"{s.path.rsplit('/', 1)[0]}/{run}"
            for s in current_snapshots(lake)
            for run in s.base_runs or (s.run_id,)
        ]
    if not paths:
        raise CardlakeError(f"nothing to scan: no published snapshot under {lake_location()}")
    scan_paths(paths)


def scan_paths(paths: list[str]) -> None:
    """Print per-dataset counts of rows holding a Luhn-valid PAN; any hit is a finding."""
    from etl.lake.snapshot import spark_has_filesystem
    from etl.lake.store import Store
    from etl.spark import build_session
    from masking.freetext import count_pans

    spark = build_session("cardlake-scan")
    for location in paths:
        if not spark_has_filesystem(spark, Store(location)):
            raise CardlakeError(
                f"cannot scan {location}: this Spark has no filesystem for its scheme (add "
                "the Hadoop connector, or run the scan where the job runs)"
            )
    rows, total = [], 0
    for path in paths:
        try:
            frame = spark.read.option("recursiveFileLookup", "true").parquet(path)
        except Exception:  # Spark's analysis errors: no Parquet there, or not Parquet
            raise CardlakeError(
                f"cannot read {path} as Parquet (no Parquet files there?)"
            ) from None
        counts = count_pans(frame)
        hits = sum(counts.values())
        total += hits
        rows.append((path, len(counts), hits))
    print_table(["parquet dataset", "string columns", "rows with a PAN"], rows)
    if total:
        raise Finding(f"{total} row(s) with a Luhn-valid PAN found (counts only shown)")
    print(f"no Luhn-valid PAN in {len(paths)} Parquet datasets")


class KeyName(StrEnum):
    pan = "pan"
    pii = "pii"


def _print_keys(stored: StoredKeys) -> None:
    from masking import keys

    print_table(["key", "current", "versions"], keys.describe(stored.document))
    version = f" (version {stored.version}, AWSCURRENT)" if stored.version else ""
    print(f"key document: {stored.where}{version}")
    if stored.document.get("dev_only"):
        print(f"{stored.where} is a dev-only key file: production keys live in a secret store")


@keys_app.command("show")
def keys_show() -> None:
    """Each key's current and kept versions (never the key material)."""
    from masking import keys

    _print_keys(keys.load_key_document())


@keys_app.command("rotate")
def keys_rotate(name: Annotated[KeyName, typer.Option(help="the key to rotate")]) -> None:
    """Add a new version and make it current; old versions stay until retired."""
    from masking import keys

    stored = keys.load_key_document(for_update=True)
    version = keys.rotate(stored.document, name.value)
    keys.save_key_document(stored)
    print(
        f"{name.value} is now v{version}: the next run of each table whose tokens use it "
        "re-tokenizes every row from the source (`cardlake run --all`)"
    )
    _print_keys(stored)


@keys_app.command("retire")
def keys_retire(
    name: Annotated[KeyName, typer.Option(help="the key")],
    version: Annotated[
        int, typer.Option(parser=positive_int, metavar="N", help="the version to delete")
    ],
) -> None:
    """Delete an old version's material, once no snapshot or warehouse table holds its tokens."""
    from etl.key_usage import check_unused
    from etl.lake.store import Store
    from etl.settings import lake_location, warehouse_settings
    from masking import keys

    stored = keys.load_key_document(for_update=True)
    keys.check_retirable(stored.document, name.value, version)
    lake = Store(lake_location())
    lake.check_reachable()  # a lake that cannot be read is never judged to hold nothing
    check_unused(name.value, version, lake, warehouse_settings())
    keys.retire(stored.document, name.value, version)
    keys.save_key_document(stored)
    if stored.version:
        print(
            f"{name.value} v{version} retired: deleted from the key document's new version; "
            f"earlier versions of {stored.where} still hold it (AWSPREVIOUS, then unlabeled "
            "versions that Secrets Manager may delete)"
        )
    else:
        print(f"{name.value} v{version} retired (material deleted)")
    _print_keys(stored)
