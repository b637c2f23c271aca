"""One table's run end to end: extract, mask, gate and publish a snapshot, load BigQuery,
reconcile with the source, and only then move the table's bookmark.

The caller (the CLI, or the Glue job script) chooses the resources and passes them in as a
`RunContext`: which replica, which warehouse, which keys, which lake. Nothing here knows
whether they are the local stack or Aurora and BigQuery.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from pyspark.sql import SparkSession

from etl.contracts.manifest import TableManifest, manifest_for
from etl.errors import Finding
from etl.extract.endpoint import Endpoint
from etl.extract.source import (
    ExtractWindow,
    ReadPlan,
    extract_table,
    guard_replica,
    plan_window,
    profile_window,
    source_columns,
)
from etl.gate.gx_project import GxRun, build_data_docs
from etl.gate.quality import QualityReport, preload_great_expectations, row_checks, validate
from etl.gate.reconcile import LoadedScope, Reconciliation, reconcile
from etl.lake.bookmarks import Bookmark, BookmarkStore
from etl.lake.lease import table_lease
from etl.lake.snapshot import (
    LakeRun,
    Pointer,
    Snapshot,
    current,
    discard_data,
    discard_leftovers,
    parquet_nulls,
    publish,
    read_pointer,
    write_report,
    write_snapshot,
)
from etl.lake.store import Store
from etl.load import opstables, runrecord, warehouse
from etl.load.raw_tables import raw_table
from etl.load.warehouse import Warehouse
from etl.transforms import with_business_date, with_run_metadata
from masking.kanonymity import KAnonymityReport, quasi_identifier_columns, with_k_anonymity
from masking.keys import KEY_NAMES, KeyProvider
from masking.policy import to_masked, token_key_ids, tokenization, with_unparsed_counts

# An incremental run re-reads this much before the bookmark: rows whose transactions
# committed late carry cursor values from before the previous run's upper bound.
LOOKBACK = dt.timedelta(minutes=10)
SAFETY_LAG = dt.timedelta(seconds=2)


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """What a user may choose per run (CLI options or Glue job arguments)."""

    num_partitions: int = 4
    allow_primary: bool = False
    full_refresh: bool = False
    lookback: dt.timedelta = LOOKBACK


def silent(message: str) -> None:
    """Progress reported to no one (the Glue job: its log is the summary line)."""


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """The resources a run uses, chosen by its caller."""

    spark: SparkSession
    source: Endpoint
    keys: KeyProvider
    lake: Store
    bookmarks: BookmarkStore
    run_id: str
    warehouse: Warehouse | None = None  # None: extract and publish only (no load)
    report: Callable[[str], None] = silent  # progress lines, for the CLI


@dataclass(frozen=True, kw_only=True)
class ExtractResult:
    snapshot: Snapshot
    window: ExtractWindow
    quality: QualityReport
    k_anonymity: KAnonymityReport | None
    zero_dates: dict[str, int]
    source_types: dict[str, str]
    pending_bookmark: Bookmark | None  # committed only after the warehouse load succeeded
    full_reason: str | None = None  # why the run read the whole table; None if incremental


@dataclass(frozen=True, kw_only=True)
class TableRun:
    """What one table's run did; the CLI and the audit trail format it."""

    table: str
    source_endpoint: str
    snapshot: Snapshot
    rows_loaded: int
    seconds: float
    window: ExtractWindow
    quality: QualityReport
    k_anonymity: KAnonymityReport | None
    zero_dates: dict[str, int]
    reconciliation: Reconciliation
    full_reason: str | None = None

    @property
    def kind(self) -> str:
        return self.snapshot.kind

    @property
    def rows_written(self) -> int:
        return self.snapshot.rows

    @property
    def unparsed_values(self) -> dict[str, int]:
        """Values a normalizer could not parse, per token column (tokenized in NFKC form)."""
        return {c: n for c, n in self.quality.unparsed_values.items() if n}


def new_run_id(now: dt.datetime | None = None) -> str:
    """The run's start in UTC and a random suffix, e.g. 20261201T185459Z_9679353a.

    Every row carries it (`_run_id`), so it must never read as a card number: the Z ends
    the time's digits. Without it, 185459_9679353 (the time, a separator, a suffix
    starting with seven decimal digits) was a Luhn-valid 13-digit PAN to `cardlake scan`.
    """
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S}Z_{uuid.uuid4().hex[:8]}"


def version_change(recorded: dict[str, int], now: dict[str, int]) -> str:
    """`pan v1 -> v2, normalizers v2 -> v3`: what changed between two tokenizations."""
    return ", ".join(
        f"{name} v{recorded.get(name, '?')} -> v{now.get(name, '?')}"
        for name in sorted(set(recorded) | set(now))
        if recorded.get(name) != now.get(name)
    )


def full_reason(
    manifest: TableManifest,
    *,
    requested: bool,
    loaded: dict[str, int] | None,
    published: Snapshot | None,
    tokens: dict[str, int],
) -> str | None:
    """Why this run must read the whole table, or None when it may be incremental.

    `loaded` is what the bookmark records of the warehouse table's versions (None: no
    bookmark). A table's tokens must all come from one key version and normalizer version:
    when what was loaded, or published, differs from what the tokens would be made with
    now, an incremental run would add rows under the new versions to rows under the old
    ones, so the run re-tokenizes every row and the full snapshot replaces the table. The
    bookmark is compared too because a snapshot can be published and its load then fail.
    """
    if requested:
        return "full refresh requested"
    recorded = published.tokenization if published is not None else {}
    for versions in (loaded or {}, recorded):
        if tokens and versions and versions != tokens:
            return f"key or normalizer version changed: {version_change(versions, tokens)}"
    if quasi_identifier_columns(manifest):
        return "k-anonymity is a property of the whole population"
    if loaded is None:
        return "no bookmark"
    if published is None:
        # A bookmark without a snapshot: the lake is new or another one (CARDLAKE_LAKE
        # changed without CARDLAKE_BOOKMARKS); an incremental snapshot would hold only the
        # window's rows and publish them as the whole table.
        return "no published snapshot in this lake"
    if tokens and not (loaded and recorded):
        return "the bookmark or snapshot records no key and normalizer versions"
    return None


def replaced_key(
    recorded: list[dict[str, str]], now: dict[str, str], tokens: dict[str, int]
) -> str | None:
    """Why the run must be full when a key has the version the table's tokens record but is
    another key (the key document was replaced: each new document starts at v1); None if
    every recorded key id is the current one. Ids absent on either side are not compared."""
    for ids in recorded:
        for name, key_id in sorted(now.items()):
            if ids.get(name, key_id) != key_id:
                return (
                    f"key {name} v{tokens.get(name, '?')} is not the key the table's tokens "
                    "were made with (the key document was replaced)"
                )
    return None


def extract_and_publish(
    context: RunContext, table: str, options: RunOptions = RunOptions()
) -> ExtractResult:
    """Extract the window since the bookmark, mask, gate and publish one table's snapshot.

    The run holds the table's lease throughout (a second run of the table fails at once)
    and first deletes the data files that killed or failed runs left. A run refused by the
    gate, or failing after its write started, deletes its data files before it raises:
    only its counts reports stay.
    """
    manifest = manifest_for(table)
    with table_lease(context.lake, table, context.run_id):
        return _extract_and_publish_leased(context, manifest, options)


def _extract_and_publish_leased(
    context: RunContext, manifest: TableManifest, options: RunOptions
) -> ExtractResult:
    lake, table, run_id = context.lake, manifest.table, context.run_id
    discard_leftovers(lake, table, run_id)
    try:
        # What is published now: this run publishes only over it (etl.lake.snapshot.publish).
        return _extract_and_publish(context, manifest, options, read_pointer(lake, table))
    except BaseException:
        published = current(lake, table)
        if published is None or published.run_id != run_id:
            discard_data(lake, table, run_id)
        raise


def _extract_and_publish(
    context: RunContext, manifest: TableManifest, options: RunOptions, pointer: Pointer
) -> ExtractResult:
    table, endpoint, keys = manifest.table, context.source, context.keys
    guard_replica(endpoint, allow_primary=options.allow_primary)
    # First: a table missing from the source is one clear line, not a driver error.
    columns = source_columns(endpoint, table)
    tokens, key_ids = tokenization(manifest, keys), token_key_ids(manifest, keys)
    bookmark = None if options.full_refresh else context.bookmarks.read(table)
    reason = full_reason(
        manifest,
        requested=options.full_refresh,
        loaded=None if bookmark is None else bookmark.tokenization,
        published=pointer.snapshot,
        tokens=tokens,
    ) or replaced_key(
        [b.key_ids for b in (bookmark, pointer.snapshot) if b is not None], key_ids, tokens
    )
    since = bookmark.watermark_at if bookmark is not None and reason is None else None
    window = plan_window(endpoint, manifest, since, options.lookback, SAFETY_LAG)
    extracted_at = dt.datetime.now(dt.UTC)
    # Counted before the read: a row updated meanwhile leaves the window either way, and
    # the gate's count check then fails the run rather than let it go unnoticed.
    profile = profile_window(endpoint, manifest, window, columns)
    plan = ReadPlan(
        window=window, columns=columns, keys=profile.keys, num_partitions=options.num_partitions
    )
    source = extract_table(context.spark, endpoint, manifest, plan)
    source, unparsed = with_unparsed_counts(source, manifest)
    masked, k_report = with_k_anonymity(
        to_masked(source, manifest, keys, as_of=extracted_at.date()), manifest
    )
    not_null = [name for name, column in columns.items() if not column.nullable]
    dated = with_business_date(masked, manifest)
    checks = row_checks(dated, manifest, not_null)
    preload_great_expectations()
    snapshot = replace(
        write_snapshot(
            checks.observed(with_run_metadata(dated, context.run_id, extracted_at)),
            LakeRun(context.lake, table, context.run_id),
            pointer.snapshot,
            "full" if window.full else "incremental",
            tokens,
        ),
        key_ids=key_ids,
    )
    quality = replace(
        validate(
            snapshot.dataset(), manifest, profile.rows, checks, GxRun(context.lake, context.run_id)
        ),
        unparsed_values=unparsed.get if unparsed else {},
    )
    counts = write_report(
        snapshot, "_quality.json", {**asdict(quality), "success": quality.success}
    )
    if k_report is not None:
        write_report(snapshot, "_k_anonymity.json", asdict(k_report))
    if not quality.success:
        raise Finding(
            f"{table}: data-quality gate failed ({', '.join(quality.failed)}); nothing was "
            f"published or loaded, the run's data files were deleted (its counts stay) and the "
            f"bookmark is unchanged. Counts: {counts}"
        )
    zero_dates = profile.zero_dates(parquet_nulls(snapshot, list(profile.nulls_before_read)))
    publish(context.lake, snapshot, pointer)
    pending = None
    if window.upper is not None and manifest.cursor is not None:
        pending = Bookmark(
            table,
            manifest.cursor,
            window.upper.isoformat(),
            context.run_id,
            dt.datetime.now(dt.UTC).isoformat(),
            tokens,
            key_ids,
        )
    return ExtractResult(
        snapshot=snapshot,
        window=window,
        quality=quality,
        k_anonymity=k_report,
        zero_dates=zero_dates,
        source_types={name: column.column_type for name, column in columns.items()},
        pending_bookmark=pending,
        full_reason=reason if window.full else None,
    )


def run_table(context: RunContext, table: str, options: RunOptions = RunOptions()) -> TableRun:
    """Extract + gate + publish, load the warehouse, reconcile, and only then the bookmark.

    The run holds the table's lease (etl.lake.lease) from the extract to the bookmark, so two
    runs of one table never interleave their loads.
    """
    if context.warehouse is None:
        raise ValueError("run_table needs a warehouse; extract_and_publish runs without one")
    started = time.perf_counter()
    target = context.warehouse
    manifest = manifest_for(table)
    with table_lease(context.lake, table, context.run_id):
        context.report(f"{table}: reading the replica, masking, writing Parquet")
        extracted = _extract_and_publish_leased(context, manifest, options)
        context.report(f"{table}: loading BigQuery")
        raw = raw_table(manifest, extracted.source_types)
        loaded = warehouse.load_snapshot(target.client, target.settings, extracted.snapshot, raw)
        reconciled = reconcile(
            context.source,
            target,
            LoadedScope(
                manifest=manifest,
                raw=raw,
                source_types=extracted.source_types,
                window=extracted.window,
                partitions=loaded.partitions,
                run_id=context.run_id,
            ),
        )
        if extracted.pending_bookmark is not None:
            context.bookmarks.write(extracted.pending_bookmark)
    return TableRun(
        table=table,
        source_endpoint=context.source.display,
        snapshot=extracted.snapshot,
        rows_loaded=loaded.rows,
        seconds=time.perf_counter() - started,
        window=extracted.window,
        quality=extracted.quality,
        k_anonymity=extracted.k_anonymity,
        zero_dates=extracted.zero_dates,
        reconciliation=reconciled,
        full_reason=extracted.full_reason,
    )


def run_tables(
    context: RunContext,
    tables: list[str],
    options: RunOptions = RunOptions(),
    on_table_done: Callable[[TableRun], None] | None = None,
) -> list[TableRun]:
    """`run_table` for each table in turn, each one recorded in the audit trail (ops tables)."""
    if context.warehouse is None:
        raise ValueError("run_tables needs a warehouse")
    target = context.warehouse
    warehouse.ensure_datasets(target.client, target.settings)
    opstables.ensure_ops_tables(target.client, target.settings)
    try:
        return _run_each(context, target, tables, options, on_table_done)
    finally:
        _build_data_docs(context)


def _build_data_docs(context: RunContext) -> None:
    """The run's Data Docs, once for all its tables, failed gates included. A failure here
    is reported, not raised: the tables are published and loaded by then."""
    try:
        index = build_data_docs(context.lake, context.run_id)
    except Exception as exc:
        context.report(f"Data Docs not built: {type(exc).__name__}: {exc}")
        return
    if index is not None:
        context.report(f"Data Docs (counts only): {index}")


def _run_each(
    context: RunContext,
    target: Warehouse,
    tables: list[str],
    options: RunOptions,
    on_table_done: Callable[[TableRun], None] | None,
) -> list[TableRun]:
    results = []
    user, host = runrecord.who()
    key_versions = ", ".join(f"{n}/v{context.keys.current(n).version}" for n in KEY_NAMES)
    for table in tables:
        now = dt.datetime.now(dt.UTC)
        record = runrecord.RunRecord(
            run_id=context.run_id,
            table_name=table,
            user=user,
            host=host,
            source_endpoint=context.source.display,
            started_at=now,
            finished_at=now,
            key_versions=key_versions,
            outcome="running",
        )
        try:
            result = run_table(context, table, options)
        except BaseException as exc:
            runrecord.append(
                replace(
                    record,
                    finished_at=dt.datetime.now(dt.UTC),
                    outcome="failed",
                    error=runrecord.describe_error(exc),
                ),
                target.client,
                target.settings,
            )
            raise
        succeeded = replace(
            record,
            finished_at=dt.datetime.now(dt.UTC),
            kind=result.kind,
            rows_written=result.rows_written,
            rows_in_warehouse=result.rows_loaded,
            data_quality=result.quality.summary,
            replica_lag_s=result.window.replica_lag_s,
            zero_dates_to_null=", ".join(f"{c}={n}" for c, n in result.zero_dates.items()) or None,
            outcome="succeeded",
        )
        runrecord.append(succeeded, target.client, target.settings)
        results.append(result)
        if on_table_done is not None:
            on_table_done(result)
    return results
