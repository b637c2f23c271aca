"""The synthetic data generator: reproducible, realistic, and dirty where it should be."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path

import pandas as pd

from devstack import seed
from devstack.source_schema import TABLE_ORDER, metadata
from masking.reference import luhn_valid
from tests.support.session import TEST_SEED


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


# Small, but it draws every branch: pending applications, cards of all four brands, typed
# PANs and order numbers in memos, missing phones, ATM repayments. Its own literal, so that
# changing TEST_SEED for the end-to-end tests does not move the pin.
PINNED_SPEC = seed.SeedSpec(members=200, days=90, seed=7, end_date=dt.date(2026, 6, 30))
PINNED_DIGESTS = {
    "support_targets": "7c852b76b2dc03c66dd8e444c1074ae13347e9fd737e779ecf046966e3c6c970",
    "card_designs": "71cb6f55aa66d2a1c12f5643ce3b67b269e65f3ce38ac005fdeb9dade0f05d14",
    "members": "c52f7e0d1851a1c88be2678002aa9d5a68a8f39017382f3af5eefa5463a41c25",
    "applications": "9fdb9420451ab9481f16d41da9fccc8aa85988914d30efce0022bd8809740bc7",
    "cards": "5eef6e988975a07bb84d7083b998133d8c457017f1071ed13a88d7fcf4317a71",
    "transactions": "a1ae5cd4755267812660dbfd289773b9d6a840442a8fea972e7a3ac6a06cc33a",
    "statements": "4179fbad848ab2d5f516c0cbd425e7a155f74d75680eee3dd11fc6e7b5d25483",
    "repayments": "45b9604aa6f6de3abeebc8def23f29de11be1936cd2f6251147f9e5be4a7e2b2",
}


def _load_file_digests(tables: dict[str, pd.DataFrame], tmp_path: Path) -> dict[str, str]:
    """sha256 of each table as the primary receives it: the LOAD DATA file, rows in primary
    key order, after its column names."""
    digests = {}
    for name in TABLE_ORDER:
        key = [column.name for column in metadata.tables[name].primary_key.columns]
        frame = tables[name].sort_values(key, kind="stable")
        path = tmp_path / f"{name}.tsv"
        seed.to_load_file(frame, path)
        header = "\t".join(frame.columns).encode() + b"\n"
        digests[name] = hashlib.sha256(header + path.read_bytes()).hexdigest()
    return digests


def test_the_generated_data_is_pinned(tmp_path: Path) -> None:
    digests = _load_file_digests(seed.generate(PINNED_SPEC), tmp_path)
    assert digests == PINNED_DIGESTS, (
        "the seeder's output changed: if intended, re-pin PINNED_DIGESTS in tests/unit/test_seed.py "
        f"to {digests}; if not, a change reordered or altered the random draws"
    )
