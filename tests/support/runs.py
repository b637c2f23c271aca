"""Run contexts for tests: the test stack's replica, generated keys, a lake under tmp."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession

from etl.extract.endpoint import source_endpoint
from etl.lake.bookmarks import BookmarkStore
from etl.lake.store import Store, as_store
from etl.load.warehouse import Warehouse, client
from etl.pipeline import RunContext
from etl.settings import WarehouseSettings
from masking.keys import KeyProvider


def warehouse_for(settings: WarehouseSettings) -> Warehouse:
    return Warehouse(client=client(settings), settings=settings)


def run_context(
    spark: SparkSession,
    lake: Path | Store,
    keys: KeyProvider,
    run_id: str,
    bookmarks: BookmarkStore | None = None,
    warehouse: WarehouseSettings | None = None,
) -> RunContext:
    return RunContext(
        spark=spark,
        source=source_endpoint(),
        keys=keys,
        lake=as_store(lake),
        bookmarks=bookmarks or BookmarkStore(),
        run_id=run_id,
        warehouse=None if warehouse is None else warehouse_for(warehouse),
    )
