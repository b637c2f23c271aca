"""The quality gate on a written, masked snapshot: row rules counted over its files, GX on
the set, counts only, fails closed."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from devstack.stack import Endpoint
from etl.contracts.manifest import TableManifest, load_manifest, manifest_for
from etl.errors import CardlakeError
from etl.extract.source import check_jdbc_dialect, jdbc_url
from etl.gate.quality import GateFrame, QualityReport, gate_frame, row_checks, validate
from etl.lake.store import Store
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


def _gate(
    df: DataFrame, manifest: TableManifest, not_null: list[str], source_rows: int, lake: Path
) -> QualityReport:
    """The snapshot written as Parquet, then the gate, as the job runs them."""
    checks = row_checks(df, manifest, not_null)
    checks.observed(df).write.parquet(str(lake / "snapshot"))
    return validate(Store(lake / "snapshot").parquet(""), manifest, source_rows, checks)


def _card_number() -> str:
    body = "411111" + "0" * 9
    return next(body + str(d) for d in range(10) if luhn_valid(body + str(d)))


def test_a_clean_snapshot_passes(spark: SparkSession, tmp_path: Path) -> None:
    df = spark.createDataFrame([_row(1), _row(2, memo="立替 ☕")], COLUMNS)
    report = _gate(df, manifest_for("transactions"), NOT_NULL, 2, tmp_path)
    assert report.success, report.failed
    assert len(report.checks) >= 6


def test_every_broken_rule_is_reported_by_count_never_by_value(
    spark: SparkSession, tmp_path: Path
) -> None:
    pan = _card_number()
    rows = [_row(1), _row(1), _row(3, amount="-5.00"), _row(4, memo=f"card {pan}")]
    df = spark.createDataFrame(rows, COLUMNS)
    report = _gate(df, manifest_for("transactions"), NOT_NULL, 5, tmp_path)
    assert set(report.failed) == {
        "ExpectTableRowCountToEqual()",
        "ExpectColumnValuesToBeUnique(transaction_id)",
        "ExpectColumnValuesToBeBetween(amount)",
        "NoLuhnValidPan(memo)",
    }
    by_check = {c["check"]: c for c in report.checks}
    assert by_check["ExpectColumnValuesToBeBetween(amount)"]["unexpected_count"] == 1
    assert by_check["NoLuhnValidPan(memo)"]["unexpected_count"] == 1
    assert by_check["ExpectColumnValuesToBeUnique(transaction_id)"]["unexpected_count"] == 2
    dumped = json.dumps(report.checks, default=str)
    assert pan not in dumped and "card " not in dumped


def test_a_digit_run_failing_the_luhn_sum_is_not_a_pan(spark: SparkSession, tmp_path: Path) -> None:
    pan = _card_number()
    not_a_pan = pan[:-1] + str((int(pan[-1]) + 1) % 10)
    rows = [_row(1, memo=f"order {not_a_pan}"), _row(2, memo="order 12-34"), _row(3)]
    report = _gate(
        spark.createDataFrame(rows, COLUMNS), manifest_for("transactions"), NOT_NULL, 3, tmp_path
    )
    memo = {c["check"]: c for c in report.checks}["NoLuhnValidPan(memo)"]
    assert report.success, report.failed
    assert (memo["element_count"], memo["unexpected_count"]) == (3, 0)


def test_a_pan_typed_in_full_width_or_with_ime_dashes_fails_the_gate(
    spark: SparkSession, tmp_path: Path
) -> None:
    pan = _card_number()
    full_width = "".join(chr(ord(d) + 0xFEE0) for d in pan)
    ime_dashed = "ー".join(pan[i : i + 4] for i in range(0, 16, 4))
    rows = [_row(1), _row(2, memo=f"カード {full_width}"), _row(3)]
    df = spark.createDataFrame(rows, COLUMNS).withColumn(
        "merchant_name",
        F.when(F.col("transaction_id") == 3, ime_dashed).otherwise(F.col("merchant_name")),
    )
    report = _gate(df, manifest_for("transactions"), NOT_NULL, 3, tmp_path)
    counts = {c["check"]: c.get("unexpected_count") for c in report.checks}
    assert counts["NoLuhnValidPan(memo)"] == 1
    assert counts["NoLuhnValidPan(merchant_name)"] == 1
    assert not report.success


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
    report = _gate(df, load_manifest(path), ["person_id", "email"], 3, tmp_path)
    by_check = {c["check"]: c for c in report.checks}
    assert set(report.failed) == {
        "TokenIs32Bytes(email)",
        "ExpectColumnValuesToNotBeNull(email_token)",
    }
    assert by_check["TokenIs32Bytes(email)"]["unexpected_count"] == 1
    assert by_check["ExpectColumnValuesToNotBeNull(email_token)"]["unexpected_count"] == 1


def test_a_jdbc_url_spark_would_not_read_as_mysql_is_refused(spark: SparkSession) -> None:
    endpoint = Endpoint("127.0.0.1", 3307, "etl", "", "cardlake")
    check_jdbc_dialect(spark, jdbc_url(endpoint))
    with pytest.raises(CardlakeError, match="column names as values; use a jdbc:mysql://"):
        check_jdbc_dialect(spark, jdbc_url(endpoint).replace("jdbc:mysql:", "jdbc:mariadb:"))


def _frame_of(tmp_path: Path, files: list[dict], manifest: Path | None = None) -> GateFrame:
    """The gate's frame over Parquet files of the given columns (one file each, in order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    for i, columns in enumerate(files):
        pq.write_table(pa.table(columns), snapshot / f"part-{i}.parquet")
    if manifest is None:
        manifest = tmp_path / "manifests" / "people.yaml"
        manifest.parent.mkdir()
        manifest.write_text(
            "table: people\nprimary_key: [id]\ncolumns:\n  id: key\n"
            "  score: {class: measure, min: 0}\n"
        )
    return gate_frame(Store(tmp_path).parquet("snapshot"), load_manifest(manifest))


def test_unsigned_bigint_keys_stay_exact_for_the_gate(tmp_path: Path) -> None:
    import pyarrow as pa

    top = 2**64 - 1  # BIGINT UNSIGNED's largest value, read by Spark as DECIMAL(20,0)
    keys = pa.decimal128(20, 0)
    # The first file fits int64, the second does not: the frame's storage widens midway.
    read = _frame_of(
        tmp_path,
        [
            {"id": pa.array([Decimal(1), None], keys)},
            {"id": pa.array([Decimal(top), Decimal(top - 1)], keys)},
        ],
    )
    assert read.rows == 4 and str(read.frame["id"].dtype) == "UInt64"
    assert read.frame["id"].tolist() == [1, pd.NA, top, top - 1]


@pytest.mark.parametrize(
    "first, second",
    [([1, None], [2**70, 2**64 - 1]), ([-1, 2], [2**64 - 1, 3])],
    ids=["beyond-64-bits", "negative-then-unsigned"],
)
def test_decimal_keys_that_fit_no_64_bit_integer_are_kept_as_read(
    tmp_path: Path, first: list, second: list
) -> None:
    import pyarrow as pa

    keys = pa.decimal128(38, 0)
    as_decimals = [[None if v is None else Decimal(v) for v in part] for part in (first, second)]
    read = _frame_of(tmp_path, [{"id": pa.array(part, keys)} for part in as_decimals])
    assert read.frame["id"].tolist() == [*as_decimals[0], *as_decimals[1]]


def test_an_empty_window_with_a_string_key_gives_an_empty_frame(tmp_path: Path) -> None:
    import pyarrow as pa

    read = _frame_of(tmp_path, [{"id": pa.array([], pa.string())}])
    assert read.rows == 0 and read.frame["id"].tolist() == []


def test_an_integer_range_column_beyond_float_precision_does_not_stop_the_gate(
    tmp_path: Path,
) -> None:
    import pyarrow as pa

    read = _frame_of(tmp_path, [{"id": pa.array([1, 2]), "score": pa.array([2**62 + 1, -1])}])
    assert read.frame["score"].tolist() == [float(2**62), -1.0]


@pytest.mark.parametrize("statistics", [True, False], ids=["footer-statistics", "none"])
def test_the_gate_frame_holds_what_the_rules_need(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, statistics: bool
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    at = dt.datetime(2026, 5, 1)
    table = pa.table(
        {
            "transaction_id": pa.array([Decimal(i) for i in range(5)], pa.decimal128(20, 0)),
            "amount": pa.array(
                [Decimal("1.50"), None, Decimal("-2.00"), Decimal(0), Decimal(1)],
                pa.decimal128(18, 2),
            ),
            "memo": ["a", None, "c", None, None],
            "merchant_name": [None, "b", "c", "d", "e"],
            "transacted_at": [at, at, None, None, at],
        }
    )
    # Row groups of 2 read a row at a time: every column is filled at the right offsets,
    # whether the footers settle a chunk (no NULLs, only NULLs) or it is read.
    monkeypatch.setattr("etl.gate.quality.BATCH_ROWS", 1)
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=2, write_statistics=statistics)
    read = gate_frame(Store(tmp_path).parquet(""), manifest_for("transactions"))
    frame = read.frame
    assert read.rows == 5 and frame["transaction_id"].dtype == "int64"
    assert frame["transaction_id"].tolist() == [0, 1, 2, 3, 4]
    assert frame["amount"].isna().tolist() == [False, True, False, False, False]
    assert frame["amount"].dropna().tolist() == [1.5, -2.0, 0.0, 1.0]
    assert frame["memo"].isna().tolist() == [False, True, False, True, True]
    assert frame["merchant_name"].isna().tolist() == [True, False, False, False, False]
    assert frame["transacted_at"].isna().tolist() == [False, False, True, True, False]
    assert frame["merchant_name"].cat.codes.dtype == "int8"  # one byte a row
