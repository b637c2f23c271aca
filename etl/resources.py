"""The resources a run uses, built from settings: the replica, the warehouse, keys, lake.

Both entry points (the `cardlake` CLI and the Glue job script) build their RunContext
here. Which systems answer is decided by settings alone: the local stack's `up` commands
write its endpoints to env files that settings read, and a deployment sets CARDLAKE_*.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import SparkSession

from etl.extract.endpoint import Endpoint, source_endpoint
from etl.extract.source import guard_replica
from etl.lake.bookmarks import BookmarkStore
from etl.lake.store import Store
from etl.load import warehouse
from etl.pipeline import RunContext, new_run_id, silent
from etl.settings import lake_location, warehouse_settings
from masking.keys import key_provider


def configured_warehouse() -> warehouse.Warehouse:
    settings = warehouse_settings()
    return warehouse.Warehouse(client=warehouse.client(settings), settings=settings)


def configured_lake(location: str | None = None) -> Store:
    """The lake at `location` (default: settings); it and the configured bookmark store
    are checked reachable before any work, so a missing bucket is one line up front."""
    lake = Store(location or lake_location())
    lake.check_reachable()
    BookmarkStore().store.check_reachable()
    return lake


def checked_source(allow_primary: bool) -> Endpoint:
    """The configured replica, once checked reachable, read-only and replicating, so that
    a wrong password or a writable endpoint is one line before Spark starts (each table's
    run checks it again)."""
    endpoint = source_endpoint()
    guard_replica(endpoint, allow_primary=allow_primary)
    return endpoint


def run_context(
    spark: SparkSession,
    lake: Store | None = None,
    report: Callable[[str], None] = silent,
    source: Endpoint | None = None,
) -> RunContext:
    """A new run's context on the configured replica (default: `source_endpoint()`),
    warehouse, key provider and lake."""
    return RunContext(
        spark=spark,
        source=source or source_endpoint(),
        keys=key_provider(),
        lake=lake or configured_lake(),
        bookmarks=BookmarkStore(),
        run_id=new_run_id(),
        warehouse=configured_warehouse(),
        report=report,
    )
