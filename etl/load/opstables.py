"""The warehouse's `ops` dataset: run records and reconciliation results, appended as Parquet.

Both tables exist before any run, so the data-health views deploy on a fresh warehouse.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from google.cloud import bigquery

from etl.load.warehouse import bigquery_type, run_once
from etl.settings import WarehouseSettings

RUN_RECORDS = pa.schema(
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
RECONCILIATION = pa.schema(
    [
        ("run_id", pa.string()),
        ("checked_at", pa.timestamp("us", tz="UTC")),
        ("table_name", pa.string()),
        pa.field("business_date", pa.date32(), metadata={"description": "NULL: unpartitioned"}),
        pa.field(
            "metric",
            pa.string(),
            metadata={"description": "rows, sum(<column>) or duplicate_keys"},
        ),
        ("source_value", pa.decimal128(38, 9)),
        ("warehouse_value", pa.decimal128(38, 9)),
        ("matches", pa.bool_()),
    ]
)
OPS_TABLES = {"run_records": RUN_RECORDS, "reconciliation": RECONCILIATION}


def bigquery_schema(schema: pa.Schema) -> list[bigquery.SchemaField]:
    return [
        bigquery.SchemaField(
            f.name,
            bigquery_type(f.type),
            description=(f.metadata or {}).get(b"description", b"").decode(),
        )
        for f in schema
    ]


def table_id(settings: WarehouseSettings, name: str) -> str:
    return f"{settings.project}.{settings.ops_dataset}.{name}"


def ensure_ops_tables(bq: bigquery.Client, settings: WarehouseSettings) -> None:
    for name, schema in OPS_TABLES.items():
        bq.create_table(
            bigquery.Table(table_id(settings, name), schema=bigquery_schema(schema)),
            exists_ok=True,
        )


def append(
    bq: bigquery.Client,
    settings: WarehouseSettings,
    name: str,
    rows: list[dict[str, Any]],
    job_id: str,
) -> None:
    """One WRITE_APPEND load job under a fixed id: a retried run appends once on BigQuery.

    The table exists already: ensure_ops_tables runs once per pipeline run and per deploy.
    """
    schema = OPS_TABLES[name]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buffer)
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        schema=bigquery_schema(schema),
    )

    def submit(attempt_id: str) -> bigquery.LoadJob:
        buffer.seek(0)
        return bq.load_table_from_file(
            buffer, table_id(settings, name), job_config=config, job_id=attempt_id
        )

    run_once(bq, job_id, submit)
