"""BigQuery access with the official client: real BigQuery or the local emulator.

The same code path serves both; only client construction differs.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from google.api_core.exceptions import NotFound
from google.cloud import bigquery

from etl import emulator
from etl.config import SQL_DIR, WarehouseSettings, warehouse_settings
from etl.errors import CardlakeError
from etl.snapshot import Snapshot


def client(settings: WarehouseSettings | None = None) -> bigquery.Client:
    settings = settings or warehouse_settings()
    if settings.use_emulator:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=settings.project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=emulator.endpoint_url()),
        )
    return bigquery.Client(project=settings.project, location=settings.location)


def ensure_datasets(bq: bigquery.Client, settings: WarehouseSettings) -> None:
    for dataset in settings.datasets.values():
        ref = bigquery.Dataset(f"{settings.project}.{dataset}")
        if settings.location:
            ref.location = settings.location
        bq.create_dataset(ref, exists_ok=True)


def bigquery_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_decimal(arrow_type):
        scale, integer_digits = arrow_type.scale, arrow_type.precision - arrow_type.scale
        return "NUMERIC" if scale <= 9 and integer_digits <= 29 else "BIGNUMERIC"
    if pa.types.is_integer(arrow_type):
        return "INT64"
    if pa.types.is_floating(arrow_type):
        return "FLOAT64"
    if pa.types.is_boolean(arrow_type):
        return "BOOL"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "STRING"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "BYTES"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP" if arrow_type.tz else "DATETIME"
    if pa.types.is_date(arrow_type):
        return "DATE"
    raise CardlakeError(f"no BigQuery type for Parquet type {arrow_type}")


def _snapshot_dataset(snapshot: Snapshot) -> ds.Dataset:
    partitioning = None
    if snapshot.partitioned_by:
        partitioning = ds.partitioning(
            pa.schema([(snapshot.partitioned_by, pa.date32())]), flavor="hive"
        )
    return ds.dataset(str(snapshot.data_dir), format="parquet", partitioning=partitioning)


def _batches(dataset: ds.Dataset) -> Iterator[pa.RecordBatch]:
    yield from dataset.to_batches(batch_size=64_000)


def _shape(schema: list[bigquery.SchemaField]) -> list[tuple[str, str]]:
    return [(f.name, f.field_type) for f in schema]


def _replace_if_schema_changed(bq: bigquery.Client, table: bigquery.Table) -> None:
    """A manifest change changes the masked schema; the old table is dropped, not mixed.

    BigQuery's WRITE_TRUNCATE would replace the schema itself, the emulator does not, and
    it maps Parquet columns by position, so the table is recreated to keep both equal.
    """
    try:
        existing = bq.get_table(table.reference)
    except NotFound:
        return
    if _shape(existing.schema) != _shape(table.schema):
        bq.delete_table(table.reference)


@dataclass(frozen=True)
class LoadResult:
    table: str
    job_id: str
    rows: int


def load_snapshot(
    bq: bigquery.Client,
    settings: WarehouseSettings,
    snapshot: Snapshot,
    primary_key: tuple[str, ...],
) -> LoadResult:
    """One load job per table and run; a retry of the same run reuses its job ids.

    A full snapshot replaces the table atomically (WRITE_TRUNCATE). An incremental one is
    loaded into a run-scoped staging table and MERGEd on the primary key, so rows that a
    window overlap or a retry brings twice end up once.
    """
    dataset = _snapshot_dataset(snapshot)
    schema = [bigquery.SchemaField(f.name, bigquery_type(f.type)) for f in dataset.schema]
    table_id = f"{settings.project}.{settings.raw_dataset}.{snapshot.table}"
    table = bigquery.Table(table_id, schema=schema)
    if snapshot.partitioned_by:
        table.time_partitioning = bigquery.TimePartitioning(field=snapshot.partitioned_by)
    if snapshot.kind == "full":
        _replace_if_schema_changed(bq, table)
        bq.create_table(table, exists_ok=True)
        job_id = f"cardlake_load_{snapshot.table}_{snapshot.run_id}"
        _load_file(bq, dataset, table, job_id)
    else:
        _check_same_schema(bq, table)
        staging = bigquery.Table(
            f"{settings.project}.{settings.raw_dataset}._staging_{snapshot.table}_{snapshot.run_id}",
            schema=schema,
        )
        bq.create_table(staging, exists_ok=True)
        try:
            _load_file(bq, dataset, staging, f"cardlake_stage_{snapshot.table}_{snapshot.run_id}")
            job_id = f"cardlake_merge_{snapshot.table}_{snapshot.run_id}"
            # A fixed id makes a retried MERGE answer "already exists", never run twice.
            bq.query(
                _merge_sql(table_id, staging, schema, primary_key), job_id=job_id, job_retry=None
            ).result()
        finally:
            bq.delete_table(staging, not_found_ok=True)
    return LoadResult(snapshot.table, job_id, int(bq.get_table(table_id).num_rows or 0))


def _load_file(
    bq: bigquery.Client, dataset: ds.Dataset, table: bigquery.Table, job_id: str
) -> None:
    """Stream the snapshot's files (partition column restored) into one Parquet upload."""
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        schema=table.schema,
    )
    if table.time_partitioning is not None:
        config.time_partitioning = table.time_partitioning
    with tempfile.TemporaryDirectory(prefix="cardlake-load-") as tmp:
        upload = Path(tmp) / "upload.parquet"
        with pq.ParquetWriter(upload, dataset.schema, compression="zstd") as writer:
            for batch in _batches(dataset):
                writer.write_batch(batch)
        with upload.open("rb") as fh:
            bq.load_table_from_file(fh, table.reference, job_config=config, job_id=job_id).result()


def _check_same_schema(bq: bigquery.Client, table: bigquery.Table) -> None:
    try:
        existing = bq.get_table(table.reference)
    except NotFound:
        bq.create_table(table)
        return
    if _shape(existing.schema) != _shape(table.schema):
        raise CardlakeError(
            f"{table.table_id}: the masked schema changed since the last load; run this table "
            "with --full-refresh to replace it"
        )


def _merge_sql(
    target: str,
    staging: bigquery.Table,
    schema: list[bigquery.SchemaField],
    primary_key: tuple[str, ...],
) -> str:
    names = [f.name for f in schema]
    on = " and ".join(f"t.`{k}` = s.`{k}`" for k in primary_key)
    updates = ", ".join(f"`{n}` = s.`{n}`" for n in names if n not in primary_key)
    columns = ", ".join(f"`{n}`" for n in names)
    values = ", ".join(f"s.`{n}`" for n in names)
    source = f"{staging.project}.{staging.dataset_id}.{staging.table_id}"
    return (
        f"merge `{target}` as t using `{source}` as s on {on}\n"
        f"when matched then update set {updates}\n"
        f"when not matched then insert ({columns}) values ({values})"
    )


# --- views ------------------------------------------------------------------------------

LAYER_DATASET = {
    "stg": "stg_dataset",
    "int": "stg_dataset",
    "kpi": "mart_dataset",
    "mart": "mart_dataset",
}
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
VIEW_REF = re.compile(r"\b((?:stg|int|kpi|mart)_\w+)`")


@dataclass(frozen=True)
class ViewDefinition:
    name: str
    path: Path
    sql: str

    @property
    def dataset_key(self) -> str:
        return LAYER_DATASET[self.name.split("_", 1)[0]]

    @property
    def depends_on(self) -> set[str]:
        return set(VIEW_REF.findall(self.sql)) - {self.name}


def view_definitions(sql_dir: Path = SQL_DIR) -> list[ViewDefinition]:
    """Views in dependency order (a view after every view it reads)."""
    views = {
        p.stem: ViewDefinition(p.stem, p, p.read_text()) for p in sorted(sql_dir.glob("*.sql"))
    }
    for view in views.values():
        if view.name.split("_", 1)[0] not in LAYER_DATASET:
            raise CardlakeError(f"{view.path}: view names start with stg_, int_, kpi_ or mart_")
        unknown = view.depends_on - set(views)
        if unknown:
            raise CardlakeError(f"{view.path} reads unknown view(s) {', '.join(sorted(unknown))}")
    ordered: list[ViewDefinition] = []
    done: set[str] = set()

    def visit(view: ViewDefinition, path: tuple[str, ...]) -> None:
        if view.name in done:
            return
        if view.name in path:
            raise CardlakeError(f"view cycle: {' -> '.join((*path, view.name))}")
        for dep in sorted(view.depends_on):
            visit(views[dep], (*path, view.name))
        done.add(view.name)
        ordered.append(view)

    for view in views.values():
        visit(view, ())
    return ordered


def render(sql: str, settings: WarehouseSettings) -> str:
    context = {"project": settings.project, **settings.datasets}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in context:
            raise CardlakeError(f"unknown placeholder {{{{ {name} }}}} in SQL")
        return context[name]

    return PLACEHOLDER.sub(substitute, sql)


def view_id(settings: WarehouseSettings, view: ViewDefinition) -> str:
    return f"{settings.project}.{settings.datasets[view.dataset_key]}.{view.name}"


def deploy_views(bq: bigquery.Client, settings: WarehouseSettings) -> list[str]:
    ensure_datasets(bq, settings)
    deployed = []
    for view in view_definitions():
        target = view_id(settings, view)
        body = render(view.sql, settings)
        bq.query(f"create or replace view `{target}` as\n{body}").result()
        deployed.append(target)
    return deployed


def query_rows(bq: bigquery.Client, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    result = bq.query(sql).result()
    names = [f.name for f in result.schema]
    return names, [tuple(row.values()) for row in result]
