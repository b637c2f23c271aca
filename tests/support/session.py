"""What the session fixtures (tests/conftest.py) share with test modules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack import seed, stack
from etl import pipeline
from etl.settings import PROJECT_ROOT, WarehouseSettings

PYSPARK_HOME = Path(__import__("pyspark").__file__).parent
TEST_SEED = seed.SeedSpec(members=400, days=75, seed=11, end_date=dt.date(2026, 6, 30))
REPO = PROJECT_ROOT


@dataclass(frozen=True)
class LoadedWarehouse:
    lake: Path
    runs: list[pipeline.TableRun]
    settings: WarehouseSettings


def reseed_after(module_fixture_name: str) -> Any:
    """A module fixture that puts the test source back to TEST_SEED after the module."""

    @pytest.fixture(scope="module", autouse=True, name=module_fixture_name)
    def restore(seeded: dict[str, int]) -> Iterator[None]:
        yield
        seed.seed(stack.endpoint("primary", "app"), TEST_SEED)
        stack.wait_for_replica()

    return restore
