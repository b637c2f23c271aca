"""Run tables end to end: extract + mask + publish (the Glue-style job), then load BigQuery."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from etl import warehouse
from etl.bookmarks import BookmarkStore
from etl.config import WarehouseSettings
from etl.jobs import extract_table
from etl.source_schema import TABLE_ORDER
from masking.keys import KeyProvider
from masking.manifest import manifest_for


@dataclass(frozen=True)
class TableRun:
    table: str
    kind: str
    rows_written: int
    rows_loaded: int
    seconds: float
    snapshot_path: str
    quality: str
    k_anonymity: str | None
    replica_lag_s: int | None


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
    """Per table: extract + gate + publish, load the warehouse, and only then the bookmark."""
    bq = warehouse.client(settings)
    warehouse.ensure_datasets(bq, settings)
    store = bookmarks or BookmarkStore()
    run_id = extract_table.new_run_id()
    results = []
    for table in tables:
        started = time.perf_counter()
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
        loaded = warehouse.load_snapshot(bq, settings, extracted.snapshot, manifest.primary_key)
        if extracted.pending_bookmark is not None:
            store.write(extracted.pending_bookmark)
        result = TableRun(
            table=table,
            kind=extracted.snapshot.kind,
            rows_written=extracted.snapshot.rows,
            rows_loaded=loaded.rows,
            seconds=time.perf_counter() - started,
            snapshot_path=extracted.snapshot.path,
            quality=f"{sum(c['success'] for c in extracted.quality.checks)}/"
            f"{len(extracted.quality.checks)} passed",
            k_anonymity=extracted.k_anonymity.summary if extracted.k_anonymity else None,
            replica_lag_s=extracted.window.replica_lag_s,
        )
        results.append(result)
        if on_table_done is not None:
            on_table_done(result)
    return results


def ordered_tables(requested: list[str] | None) -> list[str]:
    """All source tables in dependency order, or the requested ones in that order."""
    if not requested:
        return list(TABLE_ORDER)
    return [t for t in TABLE_ORDER if t in requested] + [
        t for t in requested if t not in TABLE_ORDER
    ]
