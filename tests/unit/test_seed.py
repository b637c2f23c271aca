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
    "members": "3b97faff292def4b60b3f4dad28ff1975d6bb16250dea639ae968a869cd0221e",
    "applications": "431889eab6bd89d479b37704fe9c53c3c5dde7dab6f5ee8d5f9461cc5008e650",
    "cards": "794cbb80234c40701b8d961829008a40dcb85f1d04c8983a3f6949cd7d674af3",
    "transactions": "f2a52823bd3091f3d78b52d94563e94703067fa5aded1b1e0f6a0c7c22d7b424",
    "statements": "e8e2be4338328378ffa7e256f6d8099ef350de3ecaffbd519f5262695214ce9b",
    "repayments": "eaf5705ec642fabe94cb2313a4d1b6605b391b0aa5b5ced38925df7f4479b5a6",
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
