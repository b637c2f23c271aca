"""The synthetic data generator: reproducible, realistic, and dirty where it should be."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from devstack import seed, stack
from devstack.source_schema import TABLE_ORDER, metadata
from masking.reference import luhn_valid
from tests.conftest import TEST_SEED


def test_same_seed_generates_identical_tables() -> None:
    first, second = seed.generate(TEST_SEED), seed.generate(TEST_SEED)
    for name in TABLE_ORDER:
        pd.testing.assert_frame_equal(first[name], second[name])


def test_other_seed_generates_other_data() -> None:
    other = seed.generate(dataclasses.replace(TEST_SEED, seed=TEST_SEED.seed + 1))
    assert not other["members"]["full_name"].equals(
        seed.generate(TEST_SEED)["members"]["full_name"]
    )


def test_generated_frames_match_the_schema() -> None:
    tables = seed.generate(TEST_SEED)
    for table in metadata.sorted_tables:
        assert list(tables[table.name].columns) == [c.name for c in table.columns]


def test_pans_are_luhn_valid_on_test_bins() -> None:
    cards = seed.generate(TEST_SEED)["cards"]
    assert len(cards) > 100
    assert all(luhn_valid(p) for p in cards["pan"])
    assert set(cards["pan"].str[:6]) <= set(seed.TEST_BINS.values())
    assert cards["pan"].is_unique


def test_memos_carry_realistic_dirt() -> None:
    memos = seed.generate(TEST_SEED)["transactions"]["memo"].dropna()
    digits = memos.str.replace(r"[ -]", "", regex=True).str.extract(r"(\d{13,19})")[0].dropna()
    assert any(luhn_valid(d) for d in digits), "some memos hold a typed-in PAN"
    assert any(not luhn_valid(d) for d in digits), "some memos hold non-PAN digit runs"
    assert memos.str.contains("@example.com").any()
    assert memos.str.contains("🎉|☕").any()


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
