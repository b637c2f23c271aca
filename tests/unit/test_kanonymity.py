"""The k-anonymity gate: exact counts, fail or suppress, never a value in the report."""

from __future__ import annotations

import dataclasses

import pytest
from pyspark.sql import SparkSession

from etl.contracts.manifest import KAnonymity, manifest_for
from etl.errors import CardlakeError
from masking.kanonymity import with_k_anonymity

pytestmark = pytest.mark.spark


def _members(spark: SparkSession, rows: list[tuple[int, str, str | None, str]]):
    return spark.createDataFrame(
        rows, "member_id int, birth_date_age_band string, gender string, prefecture string"
    )


ROWS = [(i, "30-39", "F", "東京都") for i in range(6)] + [
    (10, "20-29", "M", "北海道"),
    (11, "20-29", "M", "北海道"),
    (12, "70-79", None, "福岡県"),
]


def test_violation_fails_with_counts_only(spark: SparkSession) -> None:
    manifest = dataclasses.replace(manifest_for("members"), k_anonymity=KAnonymity(5, "fail"))
    with pytest.raises(CardlakeError) as err:
        with_k_anonymity(_members(spark, ROWS), manifest)
    message = str(err.value)
    assert "9 rows in 3 classes, smallest 1, 3 rows below k" in message
    assert not any(v in message for v in ("北海道", "福岡県", "70-79"))


def test_suppression_blanks_quasi_identifiers_of_small_classes(spark: SparkSession) -> None:
    manifest = dataclasses.replace(manifest_for("members"), k_anonymity=KAnonymity(3, "suppress"))
    rows = [*ROWS, (13, "50-59", "X", "大阪府")]
    masked, report = with_k_anonymity(_members(spark, rows), manifest)
    assert report is not None
    assert (report.rows, report.rows_suppressed, report.rows_below_k) == (10, 4, 0)
    assert (report.classes, report.smallest_class) == (2, 4)
    out = {r.member_id: (r.birth_date_age_band, r.gender, r.prefecture) for r in masked.collect()}
    assert out[0] == ("30-39", "F", "東京都")
    assert out[10] == out[12] == out[13] == (None, None, None)
    assert len(out) == 10


def test_suppression_that_cannot_reach_k_still_fails(spark: SparkSession) -> None:
    manifest = dataclasses.replace(manifest_for("members"), k_anonymity=KAnonymity(5, "suppress"))
    with pytest.raises(CardlakeError, match="3 suppressed"):
        with_k_anonymity(_members(spark, ROWS), manifest)


def test_tables_without_quasi_identifiers_have_no_report(spark: SparkSession) -> None:
    df = spark.createDataFrame([(1,)], "transaction_id int")
    assert with_k_anonymity(df, manifest_for("transactions")) == (df, None)
