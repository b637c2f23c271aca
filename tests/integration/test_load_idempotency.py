"""Loads are exactly-once on the emulator: the same run twice, and retries after a failure
injected once the job was submitted, leave one copy of every row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from google.cloud import bigquery

from devstack import emulator
from etl.errors import CardlakeError
from etl.lake.snapshot import BUSINESS_DATE, Snapshot
from etl.load import warehouse
from etl.load.raw_tables import RawTable
from etl.settings import warehouse_settings

pytestmark = pytest.mark.warehouse

TABLE = "idempotency_probe"
DECLARED = RawTable(
    TABLE,
    "exactly-once probe",
    (
        bigquery.SchemaField("payment_id", "INT64"),
        bigquery.SchemaField("member_id", "INT64"),
        bigquery.SchemaField("amount", "NUMERIC"),
        bigquery.SchemaField(BUSINESS_DATE, "DATE"),
    ),
    ("payment_id",),
    partition_field=BUSINESS_DATE,
    cluster_by=("member_id",),
    require_partition_filter=True,
)
MAY = [dt.date(2026, 5, d) for d in range(1, 32)]


class SubmittedThenLost(Exception):
    """The job reached BigQuery, the answer did not reach us."""


@pytest.fixture
def bq(bq_emulator: str) -> bigquery.Client:
    client = warehouse.client()
    warehouse.ensure_datasets(client, warehouse_settings())
    client.delete_table(_table_id(), not_found_ok=True)
    return client


def _table_id() -> str:
    settings = warehouse_settings()
    return f"{settings.project}.{settings.raw_dataset}.{TABLE}"


def _snapshot(
    tmp: Path, run_id: str, kind: str, rows: list[tuple[int, int, str, dt.date]]
) -> Snapshot:
    table = pa.table(
        {
            "payment_id": [r[0] for r in rows],
            "member_id": [r[1] for r in rows],
            "amount": pa.array([Decimal(r[2]) for r in rows], pa.decimal128(18, 2)),
            BUSINESS_DATE: pa.array([r[3] for r in rows], pa.date32()),
        }
    )
    path = tmp / run_id
    ds.write_dataset(table, path, format="parquet")
    return Snapshot(TABLE, run_id, str(path), len(rows), kind)


def _contents(bq: bigquery.Client) -> list[tuple[Any, ...]]:
    _, rows = warehouse.query_rows(
        bq,
        f"select payment_id, amount, {BUSINESS_DATE} from `{_table_id()}` "
        f"where {BUSINESS_DATE} >= date '2026-01-01' order by payment_id",
    )
    return rows


FIRST = [
    (1, 10, "100.00", MAY[0]),
    (2, 11, "200.00", MAY[0]),
    (3, 10, "300.00", MAY[1]),
    (4, 12, "400.00", MAY[3]),
]
CHANGES = [(2, 11, "250.00", MAY[0]), (4, 12, "450.00", MAY[3]), (5, 13, "500.00", MAY[9])]
AFTER = [
    (1, Decimal(100), MAY[0]),
    (2, Decimal(250), MAY[0]),
    (3, Decimal(300), MAY[1]),
    (4, Decimal(450), MAY[3]),
    (5, Decimal(500), MAY[9]),
]


def _load(bq: bigquery.Client, snapshot: Snapshot) -> warehouse.LoadResult:
    return warehouse.load_snapshot(bq, warehouse_settings(), snapshot, DECLARED)


def test_table_is_partitioned_and_clustered_as_declared(
    bq: bigquery.Client, tmp_path: Path
) -> None:
    _load(bq, _snapshot(tmp_path, "r1", "full", FIRST))
    table = bq.get_table(_table_id())
    assert (table.time_partitioning.field, table.time_partitioning.type_) == (BUSINESS_DATE, "DAY")
    assert table.clustering_fields == ["member_id"]


def test_the_same_run_loaded_twice_keeps_one_copy(bq: bigquery.Client, tmp_path: Path) -> None:
    full = _snapshot(tmp_path, "r1", "full", FIRST)
    changes = _snapshot(tmp_path, "r2", "incremental", CHANGES)
    for _ in range(2):
        assert _load(bq, full).rows == 4
    for _ in range(2):
        result = _load(bq, changes)
        assert result.rows == 5
        assert result.partitions == (MAY[0], MAY[3], MAY[9])
    assert _contents(bq) == AFTER


def test_load_bodies_are_staged_in_the_emulators_directory_and_removed(
    bq: bigquery.Client, tmp_path: Path
) -> None:
    _load(bq, _snapshot(tmp_path, "r1", "full", FIRST))
    staging = emulator.upload_staging_dir()
    assert staging.is_dir()
    assert list(staging.iterdir()) == []


def test_retry_after_a_lost_load_answer_keeps_one_copy(
    bq: bigquery.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(bq, _snapshot(tmp_path, "r1", "full", FIRST))
    changes = _snapshot(tmp_path, "r2", "incremental", CHANGES)
    submit = bq.load_table_from_file

    def submitted_then_lost(*args: Any, **kwargs: Any) -> bigquery.LoadJob:
        submit(*args, **kwargs).result()
        raise SubmittedThenLost

    monkeypatch.setattr(bq, "load_table_from_file", submitted_then_lost)
    with pytest.raises(SubmittedThenLost):
        _load(bq, changes)
    monkeypatch.undo()
    assert len(_contents(bq)) == 4, "a failed load changes nothing in the target"
    assert _load(bq, changes).rows == 5
    assert _contents(bq) == AFTER


def test_retry_after_a_lost_merge_answer_keeps_one_copy(
    bq: bigquery.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(bq, _snapshot(tmp_path, "r1", "full", FIRST))
    changes = _snapshot(tmp_path, "r2", "incremental", CHANGES)
    query = bq.query
    lost = []

    def merge_then_lost(sql: str, *args: Any, **kwargs: Any) -> bigquery.QueryJob:
        job = query(sql, *args, **kwargs)
        if sql.startswith("merge") and not lost:
            job.result()
            lost.append(kwargs["job_id"])
            raise SubmittedThenLost
        return job

    monkeypatch.setattr(bq, "query", merge_then_lost)
    with pytest.raises(SubmittedThenLost):
        _load(bq, changes)
    assert _contents(bq) == AFTER, "the merge ran before its answer was lost"
    assert _load(bq, changes).rows == 5
    assert _contents(bq) == AFTER
    assert lost == ["cardlake_merge_idempotency_probe_r2_0"]


def test_merge_touches_only_the_snapshots_partitions_in_chunks(
    bq: bigquery.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(bq, _snapshot(tmp_path, "r1", "full", FIRST))
    merges = []
    query = bq.query

    def recording(sql: str, *args: Any, **kwargs: Any) -> bigquery.QueryJob:
        if sql.startswith("merge"):
            merges.append(sql)
        return query(sql, *args, **kwargs)

    monkeypatch.setattr(bq, "query", recording)
    monkeypatch.setattr(warehouse, "MAX_PARTITIONS_PER_JOB", 2)
    result = _load(bq, _snapshot(tmp_path, "r2", "incremental", CHANGES))
    assert len(merges) == 2 and len(result.job_ids) == 3  # one load, two MERGEs
    assert (
        "t.`business_date` = date '2026-05-01' or t.`business_date` = date '2026-05-04'"
        in merges[0]
    )
    assert "t.`business_date` = date '2026-05-10'" in merges[1]
    assert "2026-05-02" not in "".join(merges), "an untouched partition is never scanned"
    assert _contents(bq) == AFTER


def test_adjacent_partitions_merge_into_one_range() -> None:
    snapshot_days = (None, MAY[0], MAY[1], MAY[2], MAY[5])
    assert warehouse.partition_filter("t.", DECLARED, snapshot_days) == (
        "(t.`business_date` is null or t.`business_date` between date '2026-05-01' and "
        "date '2026-05-03' or t.`business_date` = date '2026-05-06')"
    )


def test_a_full_load_over_the_partition_quota_is_refused(
    bq: bigquery.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warehouse, "MAX_PARTITIONS_PER_JOB", 2)
    with pytest.raises(CardlakeError, match="partition: month"):
        _load(bq, _snapshot(tmp_path, "r1", "full", FIRST))
