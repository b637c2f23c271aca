"""BigQuery access with the official client: real BigQuery or the local emulator.

The same code path serves both; only client construction differs.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from google.api_core.exceptions import Conflict, NotFound
from google.cloud import bigquery

from etl.errors import CardlakeError
from etl.lake.snapshot import Snapshot
from etl.load.credentials import read_federation_config
from etl.load.raw_tables import MAX_PARTITIONS_PER_JOB, RawTable
from etl.settings import LOCAL_BQ_PROJECT, WarehouseSettings, warehouse_settings

BIGQUERY_SCOPE = "https://www.googleapis.com/auth/bigquery"


@dataclass(frozen=True, kw_only=True)
class Warehouse:
    """A BigQuery client and the datasets it writes: what loads and checks are given."""

    client: bigquery.Client
    settings: WarehouseSettings


def client(settings: WarehouseSettings | None = None) -> bigquery.Client:
    settings = settings or warehouse_settings()
    if settings.use_emulator:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=settings.project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=reachable_endpoint(settings)),
        )
    credentials = None
    if settings.credentials_file is not None:
        credentials = federated_credentials(read_federation_config(settings.credentials_file))
    return bigquery.Client(
        project=settings.project, location=settings.location, credentials=credentials
    )


def federated_credentials(config: dict[str, Any]) -> Any:
    """Google credentials from a federation configuration; nothing is fetched until the
    client first calls BigQuery (google.auth's generic loader would ask for a token now)."""
    from google.auth import aws, exceptions, identity_pool

    source = config.get("credential_source") or {}
    from_aws = str(source.get("environment_id", "")).startswith("aws")
    kind = aws.Credentials if from_aws else identity_pool.Credentials
    try:
        return kind.from_info(config, scopes=[BIGQUERY_SCOPE])
    except (ValueError, exceptions.GoogleAuthError) as exc:
        raise CardlakeError(f"credential configuration: {exc}") from None


def endpoint_answers(base_url: str) -> bool:
    """Whether a BigQuery REST endpoint (the emulator) lists the local project's datasets."""
    url = f"{base_url}/bigquery/v2/projects/{LOCAL_BQ_PROJECT}/datasets"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def reachable_endpoint(settings: WarehouseSettings) -> str:
    """The emulator's URL, checked first: the client would retry an absent one for minutes."""
    url = settings.api_endpoint
    if not url:
        raise CardlakeError(
            "no warehouse configured: start the local BigQuery emulator with `cardlake warehouse "
            "up`, or set CARDLAKE_BQ_PROJECT to use real BigQuery"
        )
    if not endpoint_answers(url):
        raise CardlakeError(
            f"the BigQuery endpoint {url} (CARDLAKE_BQ_ENDPOINT) is not reachable: start the "
            "local emulator with `cardlake warehouse up`, or set CARDLAKE_BQ_PROJECT"
        )
    return url


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


def check_snapshot_schema(dataset: ds.Dataset, raw: RawTable) -> None:
    """The snapshot must carry exactly the declared columns, in types that load into them."""
    found = {f.name: bigquery_type(f.type) for f in dataset.schema}
    declared = {f.name: f.field_type for f in raw.schema}
    problems = [f"missing {n}" for n in declared if n not in found]
    problems += [f"undeclared {n}" for n in found if n not in declared]
    problems += [
        f"{n} is {found[n]}, declared {t}"
        for n, t in declared.items()
        if n in found and found[n] != t
    ]
    if problems:
        raise CardlakeError(
            f"{raw.name}: the snapshot does not match the declared warehouse schema "
            f"({'; '.join(problems)}); nothing was loaded. Check the manifest and the source "
            "column types"
        )


def _layout(table: bigquery.Table) -> tuple[Any, ...]:
    partitioning = table.time_partitioning
    return (
        [(f.name, f.field_type) for f in table.schema],
        (partitioning.field, partitioning.type_) if partitioning else None,
        list(table.clustering_fields or []),
    )


def _existing(bq: bigquery.Client, table: bigquery.Table) -> bigquery.Table | None:
    try:
        return bq.get_table(table.reference)
    except NotFound:
        return None


def raw_table_id(settings: WarehouseSettings, raw: RawTable) -> str:
    return f"{settings.project}.{settings.raw_dataset}.{raw.name}"


@dataclass(frozen=True)
class LoadResult:
    table: str
    job_ids: tuple[str, ...]
    rows: int
    partitions: tuple[dt.date | None, ...]


def load_snapshot(
    bq: bigquery.Client, settings: WarehouseSettings, snapshot: Snapshot, raw: RawTable
) -> LoadResult:
    """Load one run's snapshot with one load job; a retry of the run reuses its job ids.

    A full snapshot replaces the table atomically (WRITE_TRUNCATE). An incremental one is
    loaded into a run-scoped staging table and MERGEd on the primary key, with both sides
    limited to the partitions the snapshot touches, at most 4,000 partitions per MERGE.
    Partition decorators (table$YYYYMMDD) are not used: the emulator lacks them, and a
    MERGE limited to partitions is correct on both.
    """
    dataset = snapshot.dataset()
    check_snapshot_schema(dataset, raw)
    partitions = _touched_partitions(dataset, raw)
    table_id = raw_table_id(settings, raw)
    table = raw.table(table_id)
    existing = _existing(bq, table)
    if snapshot.kind == "full":
        if len(partitions) > MAX_PARTITIONS_PER_JOB:
            raise CardlakeError(
                f"{raw.name}: a full load would write {len(partitions)} partitions, over "
                f"BigQuery's {MAX_PARTITIONS_PER_JOB} per job; set `warehouse: {{partition: "
                "month}` in its manifest"
            )
        if existing is not None and _layout(existing) != _layout(table):
            # BigQuery cannot re-partition a table and the emulator keeps an old schema on
            # WRITE_TRUNCATE (and loads Parquet by position), so a changed layout is rebuilt.
            bq.delete_table(table.reference)
        bq.create_table(table, exists_ok=True)
        job_ids: tuple[str, ...] = (
            _load_file(bq, dataset, raw, table, f"cardlake_load_{raw.name}_{snapshot.run_id}"),
        )
    else:
        if existing is None:
            bq.create_table(table)
        elif _layout(existing) != _layout(table):
            raise CardlakeError(
                f"{raw.name}: the warehouse layout changed since the last load; run this table "
                "with --full-refresh to replace it"
            )
        target = Warehouse(client=bq, settings=settings)
        job_ids = _merge_snapshot(target, dataset, raw, snapshot.run_id, partitions)
    return LoadResult(raw.name, job_ids, _row_count(bq, table_id, raw), partitions)


def _row_count(bq: bigquery.Client, table_id: str, raw: RawTable) -> int:
    """Counted, not read from table metadata: the emulator leaves num_rows stale after DML."""
    where = ""
    if raw.partition_field:
        # Names every partition, which satisfies require_partition_filter.
        column = f"`{raw.partition_field}`"
        where = f" where {column} >= date '0001-01-01' or {column} is null"
    (row,) = bq.query(f"select count(*) from `{table_id}`{where}").result()
    return int(row[0])


def _merge_snapshot(
    target: Warehouse,
    dataset: ds.Dataset,
    raw: RawTable,
    run_id: str,
    partitions: tuple[dt.date | None, ...],
) -> tuple[str, ...]:
    bq, settings = target.client, target.settings
    table_id = raw_table_id(settings, raw)
    staging_raw = replace(raw, partition_field=None, cluster_by=(), require_partition_filter=False)
    staging = staging_raw.table(
        f"{settings.project}.{settings.raw_dataset}._staging_{raw.name}_{run_id}"
    )
    bq.create_table(staging, exists_ok=True)
    try:
        job_ids = [_load_file(bq, dataset, raw, staging, f"cardlake_stage_{raw.name}_{run_id}")]
        chunks = [
            partitions[i : i + MAX_PARTITIONS_PER_JOB]
            for i in range(0, len(partitions), MAX_PARTITIONS_PER_JOB)
        ] or [()]
        for number, chunk in enumerate(chunks):
            job_ids.append(
                run_once(
                    bq,
                    f"cardlake_merge_{raw.name}_{run_id}_{number}",
                    _query_submitter(bq, merge_sql(table_id, staging, raw, chunk)),
                )
            )
    finally:
        bq.delete_table(staging, not_found_ok=True)
    return tuple(job_ids)


def _query_submitter(bq: bigquery.Client, sql: str) -> Callable[[str], bigquery.QueryJob]:
    def submit(job_id: str) -> bigquery.QueryJob:
        # The client's own job retry would resubmit under the same fixed id; run_once decides.
        return bq.query(sql, job_id=job_id, job_retry=None)

    return submit


def run_once(
    bq: bigquery.Client, job_id: str, submit: Callable[[str], bigquery.job._AsyncJob]
) -> str:
    """Submit a job under a fixed id and wait for it; a retry never runs it a second time.

    BigQuery answers a reused id with 409 "already exists": then the first submission is
    awaited instead. Only a job that ended in an error (which wrote nothing, jobs being
    atomic) is submitted again, under a new id.
    """
    for attempt in range(1, 4):
        attempt_id = job_id if attempt == 1 else f"{job_id}_retry{attempt}"
        try:
            job = submit(attempt_id)
        except Conflict:
            job = bq.get_job(attempt_id)
            if job.done() and job.error_result:
                continue
        job.result()
        return attempt_id
    raise CardlakeError(f"job {job_id} failed three times; see the BigQuery job history")


def _touched_partitions(dataset: ds.Dataset, raw: RawTable) -> tuple[dt.date | None, ...]:
    """The partitions a snapshot writes (month starts for monthly partitioning)."""
    if raw.partition_field is None:
        return ()
    days = dataset.to_table(columns=[raw.partition_field]).column(0).unique().to_pylist()
    if raw.partition == "month":
        days = [None if d is None else d.replace(day=1) for d in days]
    return tuple(sorted(set(days), key=lambda d: (d is not None, d)))


def _load_file(
    bq: bigquery.Client,
    dataset: ds.Dataset,
    raw: RawTable,
    table: bigquery.Table,
    job_id: str,
) -> str:
    """Stream the snapshot's files into one Parquet upload.

    Columns go in declared order: the emulator maps Parquet columns by position.
    """
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        schema=table.schema,
    )
    if table.time_partitioning is not None:
        config.time_partitioning = table.time_partitioning
        config.clustering_fields = table.clustering_fields
    with tempfile.TemporaryDirectory(prefix="cardlake-load-") as tmp:
        upload = Path(tmp) / "upload.parquet"
        columns = raw.column_names
        with pq.ParquetWriter(
            upload, pa.schema([dataset.schema.field(c) for c in columns]), compression="zstd"
        ) as writer:
            for batch in dataset.to_batches(columns=columns, batch_size=64_000):
                writer.write_batch(batch)

        def submit(attempt_id: str) -> bigquery.LoadJob:
            with upload.open("rb") as fh:
                return bq.load_table_from_file(
                    fh, table.reference, job_config=config, job_id=attempt_id
                )

        return run_once(bq, job_id, submit)


def partition_filter(alias: str, raw: RawTable, partitions: tuple[dt.date | None, ...]) -> str:
    """Constant ranges over the partition column, so BigQuery prunes the other partitions."""
    column = f"{alias}`{raw.partition_field}`"
    terms = [f"{column} is null"] if None in partitions else []
    days = [d for d in partitions if d is not None]
    ranges: list[list[dt.date]] = []
    for day in days:
        start, end = day, _partition_end(day, raw.partition)
        if ranges and ranges[-1][1] + dt.timedelta(days=1) == start:
            ranges[-1][1] = end
        else:
            ranges.append([start, end])
    terms += [
        f"{column} = date '{a}'" if a == b else f"{column} between date '{a}' and date '{b}'"
        for a, b in ranges
    ]
    return "(" + " or ".join(terms) + ")" if terms else "false"


def _partition_end(day: dt.date, partition: str) -> dt.date:
    if partition != "month":
        return day
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def merge_sql(
    target: str,
    staging: bigquery.Table,
    raw: RawTable,
    partitions: tuple[dt.date | None, ...],
) -> str:
    names = raw.column_names
    on = " and ".join(f"t.`{k}` = s.`{k}`" for k in raw.primary_key)
    source = f"`{staging.project}.{staging.dataset_id}.{staging.table_id}`"
    if raw.partition_field is not None:
        on += f" and {partition_filter('t.', raw, partitions)}"
        source = f"(select * from {source} where {partition_filter('', raw, partitions)})"
    updates = ", ".join(f"`{n}` = s.`{n}`" for n in names if n not in raw.primary_key)
    columns = ", ".join(f"`{n}`" for n in names)
    values = ", ".join(f"s.`{n}`" for n in names)
    return (
        f"merge `{target}` as t using {source} as s on {on}\n"
        f"when matched then update set {updates}\n"
        f"when not matched then insert ({columns}) values ({values})"
    )


@dataclass(frozen=True)
class QueryPage:
    """The first rows of a query's result, fetched without downloading the rest."""

    names: list[str]
    rows: list[tuple[Any, ...]]
    total_rows: int
    job: bigquery.QueryJob


def query_page(bq: bigquery.Client, sql: str, max_rows: int, max_bytes_billed: int) -> QueryPage:
    config = bigquery.QueryJobConfig(maximum_bytes_billed=max_bytes_billed)
    job = bq.query(sql, job_config=config)
    result = job.result(max_results=max_rows)
    rows = [tuple(row.values()) for row in result]
    return QueryPage(
        [f.name for f in result.schema], rows, int(result.total_rows or len(rows)), job
    )


def query_rows(bq: bigquery.Client, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    result = bq.query(sql).result()
    names = [f.name for f in result.schema]
    return names, [tuple(row.values()) for row in result]
