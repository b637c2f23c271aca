"""End to end on real components: replica -> Spark -> masked Parquet -> BigQuery emulator -> views."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pymysql
import pytest
from google.cloud import bigquery
from pyspark.sql import SparkSession

from etl import pipeline, stack, warehouse
from etl.config import warehouse_settings
from etl.snapshot import current
from masking.keys import DocumentKeyProvider
from masking.reference import luhn_valid

pytestmark = [pytest.mark.stack, pytest.mark.spark, pytest.mark.warehouse]

TABLES = ["cards", "transactions"]
DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){12,18}")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lake")


@pytest.fixture(scope="module")
def runs(
    spark: SparkSession,
    seeded: dict[str, int],
    bq_emulator: str,
    lake: Path,
    test_keys: DocumentKeyProvider,
) -> list[pipeline.TableRun]:
    return pipeline.run_tables(
        spark, TABLES, lake, test_keys, warehouse_settings(), num_partitions=3
    )


@pytest.fixture(scope="module")
def bq(bq_emulator: str) -> bigquery.Client:
    return warehouse.client()


def _source(sql: str) -> list[tuple]:
    ep = stack.endpoint("primary", "app")
    with (
        pymysql.connect(
            host=ep.host, port=ep.port, user=ep.user, password=ep.password, database=ep.database
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute(sql)
        return list(cur.fetchall())


def _raw(table: str) -> str:
    settings = warehouse_settings()
    return f"`{settings.project}.{settings.raw_dataset}.{table}`"


def test_warehouse_holds_the_source_row_count(
    runs: list[pipeline.TableRun], bq: bigquery.Client, seeded: dict[str, int]
) -> None:
    for run in runs:
        (source_count,) = _source(f"SELECT COUNT(*) FROM {run.table}")[0]
        _, rows = warehouse.query_rows(bq, f"select count(*) from {_raw(run.table)}")
        assert (
            source_count == seeded[run.table] == run.rows_written == run.rows_loaded == rows[0][0]
        )


def _pan_like(value: str) -> bool:
    return any(luhn_valid(re.sub(r"[ -]", "", m)) for m in DIGIT_RUN.findall(value))


def test_no_pan_in_parquet_or_warehouse(
    runs: list[pipeline.TableRun], lake: Path, bq: bigquery.Client
) -> None:
    source_memos_with_pans = sum(
        _pan_like(memo)
        for (memo,) in _source("SELECT memo FROM transactions WHERE memo IS NOT NULL")
    )
    assert source_memos_with_pans > 0, "the fixture must contain PANs typed into memos"
    for table in TABLES:
        snapshot = current(lake, table)
        assert snapshot is not None
        parquet = ds.dataset(snapshot.path, format="parquet").to_table()
        strings = [f.name for f in parquet.schema if pa.types.is_string(f.type)]
        assert strings
        for name in strings:
            assert not any(_pan_like(v) for v in parquet.column(name).drop_null().to_pylist()), name
        schema = bq.get_table(_raw(table).strip("`")).schema
        bq_strings = [f.name for f in schema if f.field_type == "STRING"]
        _, rows = warehouse.query_rows(bq, f"select {', '.join(bq_strings)} from {_raw(table)}")
        assert not any(_pan_like(v) for row in rows for v in row if v is not None)
    _, redacted = warehouse.query_rows(
        bq, f"select countif(memo like '%[PAN]%') from {_raw('transactions')}"
    )
    assert redacted[0][0] == source_memos_with_pans


def test_pan_becomes_keyed_token_with_display_safe_parts(
    runs: list[pipeline.TableRun], bq: bigquery.Client, test_keys: DocumentKeyProvider
) -> None:
    key = test_keys.current("pan")
    source = {int(card_id): pan for card_id, pan in _source("SELECT card_id, pan FROM cards")}
    names, rows = warehouse.query_rows(
        bq,
        f"select card_id, pan_token, pan_token_key_version, pan_bin6, pan_last4 from {_raw('cards')}",
    )
    assert "pan" not in names and "cvv" not in {
        f.name for f in bq.get_table(_raw("cards").strip("`")).schema
    }
    assert len(rows) == len(source)
    for card_id, pan_token, version, bin6, last4 in rows:
        pan = source[int(card_id)]
        assert pan_token == hmac.new(key.material, pan.encode(), hashlib.sha256).digest()
        assert (version, bin6, last4) == (key.version, pan[:6], pan[-4:])


def test_gmv_view_equals_gmv_computed_from_the_source(
    runs: list[pipeline.TableRun], bq: bigquery.Client
) -> None:
    settings = warehouse_settings()
    deployed = warehouse.deploy_views(bq, settings)
    assert deployed[-1].endswith("mart.kpi_daily_gmv")
    expected = {
        day: Decimal(gmv)
        for day, gmv in _source(
            "SELECT DATE(transacted_at + INTERVAL 9 HOUR), "
            "SUM(CASE txn_type WHEN 'capture' THEN amount WHEN 'refund' THEN -amount ELSE 0 END) "
            "FROM transactions GROUP BY 1"
        )
    }
    _, rows = warehouse.query_rows(bq, f"select business_date, gmv_jpy from `{deployed[-1]}`")
    assert {day: Decimal(gmv) for day, gmv in rows} == expected
    assert min(expected) <= dt.date(2026, 6, 29)
