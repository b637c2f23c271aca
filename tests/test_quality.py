"""The Great Expectations gate on a masked snapshot: one suite, counts only, fails closed."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from etl.quality import validate
from masking.manifest import load_manifest, manifest_for
from masking.reference import luhn_valid

pytestmark = pytest.mark.spark

COLUMNS = "transaction_id decimal(20,0), card_id decimal(20,0), member_id decimal(20,0), txn_type string, amount decimal(18,2), currency string, merchant_name string, mcc string, memo string, transacted_at timestamp, created_at timestamp, updated_at timestamp"
NOT_NULL = [
    "transaction_id",
    "card_id",
    "member_id",
    "txn_type",
    "amount",
    "currency",
    "merchant_name",
    "mcc",
    "transacted_at",
    "created_at",
    "updated_at",
]


def _row(i: int, amount: str = "100.00", memo: str | None = None) -> tuple:
    at = dt.datetime(2026, 5, 1, 3, 0)
    return (
        Decimal(i),
        Decimal(1),
        Decimal(1),
        "capture",
        Decimal(amount),
        "JPY",
        "ローソン",
        "5411",
        memo,
        at,
        at,
        at,
    )


def _card_number() -> str:
    body = "411111" + "0" * 9
    return next(body + str(d) for d in range(10) if luhn_valid(body + str(d)))


def test_a_clean_snapshot_passes(spark: SparkSession) -> None:
    df = spark.createDataFrame([_row(1), _row(2, memo="立替 ☕")], COLUMNS)
    report = validate(df, manifest_for("transactions"), NOT_NULL, source_rows=2)
    assert report.success, report.failed
    assert len(report.checks) >= 6


def test_every_broken_rule_is_reported_by_count_never_by_value(spark: SparkSession) -> None:
    pan = _card_number()
    rows = [_row(1), _row(1), _row(3, amount="-5.00"), _row(4, memo=f"card {pan}")]
    df = spark.createDataFrame(rows, COLUMNS)
    report = validate(df, manifest_for("transactions"), NOT_NULL, source_rows=5)
    assert set(report.failed) == {
        "ExpectTableRowCountToEqual()",
        "ExpectColumnValuesToBeUnique(transaction_id)",
        "ExpectColumnValuesToBeBetween(amount)",
        "NoLuhnValidPanInStrings()",
    }
    by_check = {c["check"]: c for c in report.checks}
    assert by_check["ExpectColumnValuesToBeBetween(amount)"]["unexpected_count"] == 1
    assert by_check["NoLuhnValidPanInStrings()"]["unexpected_count"] == 1
    dumped = json.dumps(report.checks, default=str)
    assert pan not in dumped and "card " not in dumped


def test_a_token_that_is_not_32_bytes_or_missing_fails(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(
        "table: people\nprimary_key: [person_id]\ncolumns:\n"
        "  person_id: key\n  email: {class: direct_identifier, normalize: email}\n"
    )
    rows = [(1, b"\x01" * 32, 1), (2, b"\x02" * 31, 1), (3, None, 1)]
    df = spark.createDataFrame(
        rows, "person_id int, email_token binary, email_token_key_version int"
    )
    report = validate(df, load_manifest(path), ["person_id", "email"], source_rows=3)
    by_check = {c["check"]: c for c in report.checks}
    assert set(report.failed) == {
        "ExpectColumnValuesToBeBetween(_token_bytes_email)",
        "ExpectColumnValuesToNotBeNull(_token_bytes_email)",
    }
    assert by_check["ExpectColumnValuesToBeBetween(_token_bytes_email)"]["unexpected_count"] == 1
