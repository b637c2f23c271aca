"""What the session fixtures (tests/conftest.py) share with test modules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from devstack import seed, stack
from devstack.source_schema import TABLE_ORDER
from etl import pipeline
from etl.lake.bookmarks import BookmarkStore
from etl.load import warehouse
from etl.settings import PROJECT_ROOT, WarehouseSettings, warehouse_settings
from etl.views import deploy as views
from masking.keys import KeyProvider
from tests.support.runs import run_context

PYSPARK_HOME = Path(__import__("pyspark").__file__).parent
TEST_SEED = seed.SeedSpec(members=400, days=75, seed=11, end_date=dt.date(2026, 6, 30))
REPO = PROJECT_ROOT


@dataclass(frozen=True)
class LoadedWarehouse:
    lake: Path
    runs: list[pipeline.TableRun]
    settings: WarehouseSettings


def load_warehouse(
    spark: SparkSession,
    keys: KeyProvider,
    tmp_path_factory: pytest.TempPathFactory,
    dataset_prefix: str,
) -> LoadedWarehouse:
    """Every table of the current source run through the pipeline once (full refresh) into
    datasets of its own, with all views deployed over them."""
    lake = tmp_path_factory.mktemp("lake")
    settings = warehouse_settings().with_dataset_prefix(dataset_prefix)
    context = run_context(
        spark,
        lake,
        keys,
        pipeline.new_run_id(),
        bookmarks=BookmarkStore(str(tmp_path_factory.mktemp("bookmarks"))),
        warehouse=settings,
    )
    runs = pipeline.run_tables(
        context, TABLE_ORDER, pipeline.RunOptions(num_partitions=3, full_refresh=True)
    )
    views.deploy_views(warehouse.client(settings), settings)
    return LoadedWarehouse(lake, runs, settings)


def reseed_after(module_fixture_name: str) -> Any:
    """A module fixture that puts the test source back to TEST_SEED after the module."""

    @pytest.fixture(scope="module", autouse=True, name=module_fixture_name)
    def restore(seeded: dict[str, int]) -> Iterator[None]:
        yield
        seed.seed(stack.endpoint("primary", "app"), TEST_SEED)
        stack.wait_for_replica()

    return restore
