"""Run tables end to end: extract + mask + publish (the Glue-style job), then load BigQuery."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from google.cloud import bigquery
from pyspark.sql import SparkSession

from etl import opstables, runrecord, warehouse
from etl.bookmarks import BookmarkStore
from etl.config import WarehouseSettings
from etl.jobs import extract_table
from etl.lease import table_lease
from etl.raw_tables import raw_table
from etl.reconcile import reconcile
from etl.runrecord import who
from etl.source import source_endpoint
from etl.source_schema import TABLE_ORDER
from masking.keys import KEY_NAMES, KeyProvider
from masking.manifest import manifest_for


@dataclass(frozen=True)
class TableRun:
    table: str
    source_endpoint: str
    kind: str
    rows_written: int
    rows_loaded: int
    seconds: float
    snapshot_path: str
    quality: str
    k_anonymity: str | None
    replica_lag_s: int | None
    replication: str
    zero_dates: str | None
    reconciliation: str
    full_reason: str | None = None  # why a full run read the whole table
    # Values a normalizer could not parse, per token column (tokenized in their NFKC form).
    unparsed_values: dict[str, int] = field(default_factory=dict)


def run_tables(
    spark: SparkSession,
    tables: list[str],
    lake: Path,
    keys: KeyProvider,
    settings: WarehouseSettings,
    num_partitions: int = 4,
    allow_primary: bool = False,
    full_refresh: bool = False,
    bookmarks: BookmarkStore | None = None,
    on_table_done: Callable[[TableRun], None] | None = None,
) -> list[TableRun]:
    """Per table: extract + gate + publish, load the warehouse, and only then the bookmark.

    Each table's run holds its lease (etl.lease) from the extract to the bookmark, so two
    runs of one table never interleave their loads.
    """
    bq = warehouse.client(settings)
    warehouse.ensure_datasets(bq, settings)
    opstables.ensure_ops_tables(bq, settings)
    store = bookmarks or BookmarkStore()
    run_id = extract_table.new_run_id()
    results = []
    user, host = who()
    key_versions = ", ".join(f"{n}/v{keys.current(n).version}" for n in KEY_NAMES)
    for table in tables:
        started = time.perf_counter()
        now = dt.datetime.now(dt.UTC)
        record = runrecord.RunRecord(
            run_id,
            table,
            user,
            host,
            "",
            now,
            now,
            None,
            None,
            None,
            None,
            key_versions,
            None,
            None,
            "running",
            None,
        )
        try:
            with table_lease(lake, table, run_id):
                result = _run_table(
                    spark,
                    table,
                    run_id,
                    lake,
                    keys,
                    settings,
                    bq,
                    store,
                    started,
                    num_partitions,
                    allow_primary,
                    full_refresh,
                )
        except BaseException as exc:
            failed = replace(
                record,
                finished_at=dt.datetime.now(dt.UTC),
                outcome="failed",
                error=runrecord.describe_error(exc),
            )
            runrecord.append(failed, bq, settings)
            raise
        succeeded = replace(
            record,
            source_endpoint=result.source_endpoint,
            finished_at=dt.datetime.now(dt.UTC),
            kind=result.kind,
            rows_written=result.rows_written,
            rows_in_warehouse=result.rows_loaded,
            data_quality=result.quality,
            replica_lag_s=result.replica_lag_s,
            zero_dates_to_null=result.zero_dates,
            outcome="succeeded",
        )
        runrecord.append(succeeded, bq, settings)
        results.append(result)
        if on_table_done is not None:
            on_table_done(result)
    return results


def _run_table(
    spark: SparkSession,
    table: str,
    run_id: str,
    lake: Path,
    keys: KeyProvider,
    settings: WarehouseSettings,
    bq: bigquery.Client,
    store: BookmarkStore,
    started: float,
    num_partitions: int,
    allow_primary: bool,
    full_refresh: bool,
) -> TableRun:
    extracted = extract_table.run(
        spark,
        table,
        run_id,
        lake,
        keys,
        num_partitions=num_partitions,
        allow_primary=allow_primary,
        full_refresh=full_refresh,
        bookmarks=store,
    )
    manifest = manifest_for(table)
    raw = raw_table(manifest, extracted.source_types)
    loaded = warehouse.load_snapshot(bq, settings, extracted.snapshot, raw)
    reconciled = reconcile(
        source_endpoint(),
        bq,
        settings,
        manifest,
        raw,
        extracted.source_types,
        extracted.window,
        loaded.partitions,
        run_id,
    )
    if extracted.pending_bookmark is not None:
        store.write(extracted.pending_bookmark)
    return TableRun(
        table=table,
        source_endpoint=extracted.source_endpoint,
        kind=extracted.snapshot.kind,
        rows_written=extracted.snapshot.rows,
        rows_loaded=loaded.rows,
        seconds=time.perf_counter() - started,
        snapshot_path=extracted.snapshot.path,
        quality=f"{sum(c['success'] for c in extracted.quality.checks)}/"
        f"{len(extracted.quality.checks)} passed",
        k_anonymity=extracted.k_anonymity.summary if extracted.k_anonymity else None,
        replica_lag_s=extracted.window.replica_lag_s,
        replication=extracted.window.replication,
        zero_dates=", ".join(f"{c}={n}" for c, n in extracted.zero_dates.items()) or None,
        reconciliation=reconciled.summary,
        full_reason=extracted.full_reason,
        unparsed_values={c: n for c, n in extracted.quality.unparsed_values.items() if n},
    )


def ordered_tables(requested: list[str] | None) -> list[str]:
    """All source tables in dependency order, or the requested ones in that order."""
    if not requested:
        return list(TABLE_ORDER)
    return [t for t in TABLE_ORDER if t in requested] + [
        t for t in requested if t not in TABLE_ORDER
    ]
