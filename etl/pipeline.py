"""Run tables end to end: extract + mask + publish (the Glue-style job), then load BigQuery."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from etl import warehouse
from etl.config import WarehouseSettings
from etl.jobs import extract_table
from etl.source_schema import TABLE_ORDER
from masking.keys import KeyProvider


@dataclass(frozen=True)
class TableRun:
    table: str
    rows_written: int
    rows_loaded: int
    seconds: float
    snapshot_path: str
    k_anonymity: str | None


def run_tables(
    spark: SparkSession,
    tables: list[str],
    lake: Path,
    keys: KeyProvider,
    settings: WarehouseSettings,
    num_partitions: int = 4,
    allow_primary: bool = False,
    on_table_done: Callable[[TableRun], None] | None = None,
) -> list[TableRun]:
    bq = warehouse.client(settings)
    warehouse.ensure_datasets(bq, settings)
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
        )
        loaded = warehouse.load_snapshot(bq, settings, extracted.snapshot)
        result = TableRun(
            table,
            extracted.snapshot.rows,
            loaded.rows,
            time.perf_counter() - started,
            extracted.snapshot.path,
            extracted.k_anonymity.summary if extracted.k_anonymity else None,
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
