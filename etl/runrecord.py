"""The audit trail: one record per table and run, on success and on failure (PCI DSS 10.2).

Records are appended to a local JSON-lines file and to the warehouse table
`ops.run_records`. They hold who, when, where, what and how many, never row values: an
unexpected exception is recorded by its type only, since its message may quote data.
"""

from __future__ import annotations

import datetime as dt
import getpass
import io
import json
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from google.cloud import bigquery

from etl.config import WarehouseSettings, state_dir
from etl.errors import CardlakeError

SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("table_name", pa.string()),
        ("user", pa.string()),
        ("host", pa.string()),
        ("source_endpoint", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("kind", pa.string()),
        ("rows_written", pa.int64()),
        ("rows_in_warehouse", pa.int64()),
        ("data_quality", pa.string()),
        ("key_versions", pa.string()),
        ("replica_lag_s", pa.int64()),
        ("zero_dates_to_null", pa.string()),
        ("outcome", pa.string()),
        ("error", pa.string()),
    ]
)


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    table_name: str
    user: str
    host: str
    source_endpoint: str
    started_at: dt.datetime
    finished_at: dt.datetime
    kind: str | None
    rows_written: int | None
    rows_in_warehouse: int | None
    data_quality: str | None
    key_versions: str
    replica_lag_s: int | None
    zero_dates_to_null: str | None
    outcome: str
    error: str | None


def who() -> tuple[str, str]:
    return getpass.getuser(), socket.gethostname()


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, CardlakeError):
        return str(exc)
    return f"{type(exc).__name__} (message withheld: it may quote data)"


def record_file() -> Path:
    return state_dir() / "runs" / "run_records.jsonl"


def append(record: RunRecord, bq: bigquery.Client | None, settings: WarehouseSettings) -> None:
    path = record_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(record), default=str) + "\n")
    if bq is None:
        return
    table_id = f"{settings.project}.{settings.ops_dataset}.run_records"
    schema = [
        bigquery.SchemaField(
            f.name,
            "TIMESTAMP"
            if pa.types.is_timestamp(f.type)
            else "INT64"
            if pa.types.is_integer(f.type)
            else "STRING",
        )
        for f in SCHEMA
    ]
    bq.create_table(bigquery.Table(table_id, schema=schema), exists_ok=True)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([asdict(record)], schema=SCHEMA), buffer)
    buffer.seek(0)
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        schema=schema,
    )
    bq.load_table_from_file(
        buffer,
        table_id,
        job_config=config,
        job_id=f"cardlake_record_{record.table_name}_{record.run_id}_{record.outcome}",
    ).result()
