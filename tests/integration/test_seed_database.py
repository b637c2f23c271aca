"""The seeder against the real primary: the same seed gives the same database."""

from __future__ import annotations

import pytest

from devstack import seed, stack
from devstack.source_schema import TABLE_ORDER
from tests.support.session import TEST_SEED


def _checksums() -> dict[str, int]:
    rows = stack.execute("primary", "app", "CHECKSUM TABLE " + ", ".join(TABLE_ORDER) + " EXTENDED")
    return {str(name).split(".")[-1]: int(value) for name, value in rows}


@pytest.mark.stack
def test_reseeding_with_the_same_seed_reproduces_the_database(seeded: dict[str, int]) -> None:
    checksums = []
    for _ in range(2):
        counts, seconds = seed.seed(stack.endpoint("primary", "app"), TEST_SEED)
        stack.wait_for_replica()
        assert counts == seeded and seconds > 0
        checksums.append(_checksums())
    assert checksums[0] == checksums[1]
    assert all(checksums[0].values())
