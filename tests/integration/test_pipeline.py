"""End to end on real components: replica -> Spark -> masked Parquet -> BigQuery emulator -> views."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from google.cloud import bigquery

from devstack import stack
from devstack.source_schema import TABLE_ORDER
from etl import pipeline
from etl.lake.snapshot import current
from etl.load import warehouse
from etl.settings import WarehouseSettings, warehouse_settings
from masking.keys import DocumentKeyProvider
from masking.reference import luhn_valid
from tests.support.session import LoadedWarehouse

pytestmark = [pytest.mark.stack, pytest.mark.spark, pytest.mark.warehouse]

TABLES = TABLE_ORDER
DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){12,18}")


@pytest.fixture(scope="module")
def lake(loaded_warehouse: LoadedWarehouse) -> Path:
    return loaded_warehouse.lake


@pytest.fixture(scope="module")
def runs(loaded_warehouse: LoadedWarehouse) -> list[pipeline.TableRun]:
    return loaded_warehouse.runs


@pytest.fixture(scope="module")
def e2e(loaded_warehouse: LoadedWarehouse) -> WarehouseSettings:
    return loaded_warehouse.settings


@pytest.fixture(scope="module")
def bq(bq_emulator: str) -> bigquery.Client:
    return warehouse.client()


def _source(sql: str) -> list[tuple]:
    return stack.execute("primary", "app", sql)


def _raw(table: str, settings: WarehouseSettings | None = None) -> str:
    settings = settings or warehouse_settings()
    return f"`{settings.project}.{settings.raw_dataset}.{table}`"


def test_warehouse_holds_the_source_row_count(
    runs: list[pipeline.TableRun],
    bq: bigquery.Client,
    seeded: dict[str, int],
    e2e: WarehouseSettings,
) -> None:
    for run in runs:
        (source_count,) = _source(f"SELECT COUNT(*) FROM {run.table}")[0]
        _, rows = warehouse.query_rows(bq, f"select count(*) from {_raw(run.table, e2e)}")
        assert (
            source_count == seeded[run.table] == run.rows_written == run.rows_loaded == rows[0][0]
        )


def _pan_like(value: str) -> bool:
    return any(luhn_valid(re.sub(r"[ -]", "", m)) for m in DIGIT_RUN.findall(value))


def _output_strings(
    lake: Path, bq: bigquery.Client, e2e: WarehouseSettings
) -> Iterator[tuple[str, str]]:
    """(table, value) for every string value in every Parquet snapshot and warehouse table."""
    for table in TABLES:
        snapshot = current(lake, table)
        assert snapshot is not None
        parquet = ds.dataset(snapshot.path, format="parquet").to_table()
        for field in parquet.schema:
            if pa.types.is_string(field.type):
                for value in parquet.column(field.name).drop_null().to_pylist():
                    yield table, value
        schema = bq.get_table(_raw(table, e2e).strip("`")).schema
        columns = [f.name for f in schema if f.field_type == "STRING"]
        _, rows = warehouse.query_rows(bq, f"select {', '.join(columns)} from {_raw(table, e2e)}")
        for row in rows:
            yield from ((table, v) for v in row if v is not None)


def test_no_pan_in_parquet_or_warehouse(
    runs: list[pipeline.TableRun],
    lake: Path,
    bq: bigquery.Client,
    e2e: WarehouseSettings,
) -> None:
    source_memos_with_pans = sum(
        _pan_like(memo)
        for (memo,) in _source("SELECT memo FROM transactions WHERE memo IS NOT NULL")
    )
    assert source_memos_with_pans > 0, "the fixture must contain PANs typed into memos"
    scanned = 0
    for table, value in _output_strings(lake, bq, e2e):
        assert not _pan_like(value), f"PAN-like value in {table}"
        scanned += 1
    assert scanned > 10_000
    _, redacted = warehouse.query_rows(
        bq, f"select countif(memo like '%[PAN]%') from {_raw('transactions', e2e)}"
    )
    assert redacted[0][0] == source_memos_with_pans


def test_no_source_email_or_phone_in_parquet_or_warehouse(
    runs: list[pipeline.TableRun],
    lake: Path,
    bq: bigquery.Client,
    e2e: WarehouseSettings,
) -> None:
    emails = {e.lower() for (e,) in _source("SELECT email FROM members")}
    phones = {
        re.sub(r"\D", "", p)
        for (p,) in _source("SELECT phone FROM members WHERE phone IS NOT NULL")
    }
    assert len(emails) == runs[TABLES.index("members")].rows_written
    for table, value in _output_strings(lake, bq, e2e):
        lowered = value.lower()
        assert "@" not in lowered or not any(e in lowered for e in emails), f"e-mail in {table}"
        for run in re.findall(r"\d[\d -]{8,}\d", value):
            assert re.sub(r"\D", "", run) not in phones, f"phone number in {table}"


def test_pan_becomes_keyed_token_with_display_safe_parts(
    runs: list[pipeline.TableRun],
    bq: bigquery.Client,
    test_keys: DocumentKeyProvider,
    e2e: WarehouseSettings,
) -> None:
    key = test_keys.current("pan")
    source = {int(card_id): pan for card_id, pan in _source("SELECT card_id, pan FROM cards")}
    names, rows = warehouse.query_rows(
        bq,
        f"select card_id, pan_token, pan_token_key_version, pan_bin6, pan_last4 from {_raw('cards', e2e)}",
    )
    assert "pan" not in names and "cvv" not in {
        f.name for f in bq.get_table(_raw("cards", e2e).strip("`")).schema
    }
    assert len(rows) == len(source)
    for card_id, pan_token, version, bin6, last4 in rows:
        pan = source[int(card_id)]
        assert pan_token == hmac.new(key.material, pan.encode(), hashlib.sha256).digest()
        assert (version, bin6, last4) == (key.version, pan[:6], pan[-4:])


def test_reload_after_a_schema_change_replaces_the_table(
    bq_emulator: str, bq: bigquery.Client, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    from etl.lake.snapshot import Snapshot
    from etl.load.raw_tables import RawTable

    settings = warehouse_settings()
    warehouse.ensure_datasets(bq, settings)
    for run_id, table in [
        ("r1", pa.table({"id": [1, 2], "postal3": ["100", "530"], "city": ["x", "y"]})),
        ("r2", pa.table({"id": [1, 2, 3], "prefecture": ["東京都", "大阪府", None]})),
    ]:
        (tmp_path / run_id).mkdir()
        pq.write_table(table, tmp_path / run_id / "part-0.parquet")
        snapshot = Snapshot("schema_drift", run_id, str(tmp_path / run_id), table.num_rows)
        declared = RawTable(
            "schema_drift",
            "test table",
            tuple(
                bigquery.SchemaField(f.name, warehouse.bigquery_type(f.type)) for f in table.schema
            ),
            ("id",),
        )
        assert warehouse.load_snapshot(bq, settings, snapshot, declared).rows == table.num_rows
    names, rows = warehouse.query_rows(bq, f"select * from {_raw('schema_drift')} order by id")
    assert names == ["id", "prefecture"]
    assert rows == [(1, "東京都"), (2, "大阪府"), (3, None)]


def test_the_run_leaves_gx_results_and_data_docs_with_counts_only(
    runs: list[pipeline.TableRun], lake: Path
) -> None:
    """One Checkpoint result per table under <lake>/_gx/, Data Docs built once for the run,
    and no source PAN or e-mail in any of their files."""
    gx_root = lake / "_gx"
    run_id = runs[0].snapshot.run_id
    for run in runs:
        assert list((gx_root / "validations" / run.table / run_id).rglob("*.json")), run.table
        assert (gx_root / "checkpoints" / f"{run.table}.json").exists()
    assert (gx_root / "data_docs" / "index.html").exists()
    secrets = {str(pan) for (pan,) in _source("SELECT pan FROM cards LIMIT 500")}
    secrets |= {str(email) for (email,) in _source("SELECT email FROM members LIMIT 500")}
    assert secrets
    for path in gx_root.rglob("*"):
        if path.is_file() and "static" not in path.parts:
            text = path.read_text(errors="replace")
            assert not [s for s in secrets if s in text], path
