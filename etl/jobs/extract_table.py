"""Glue-style job: read one table from the read replica, mask it, publish a Parquet snapshot.

    spark-submit etl/jobs/extract_table.py --JOB_NAME extract --table transactions

The same file runs as an AWS Glue job script. Nothing runs at import time.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType

from etl.bookmarks import Bookmark, BookmarkStore
from etl.config import BUSINESS_TIMEZONE, lake_dir
from etl.errors import Finding, run_reporting_errors
from etl.glue import init_job, resolved_options
from etl.lease import table_lease
from etl.quality import QualityReport, preload_great_expectations, row_checks, validate
from etl.snapshot import (
    BUSINESS_DATE,
    Snapshot,
    current,
    discard_data,
    discard_leftovers,
    parquet_nulls,
    publish,
    run_dir,
    write_snapshot,
)
from etl.source import (
    ExtractWindow,
    extract_table,
    guard_replica,
    plan_window,
    profile_window,
    source_columns,
    source_endpoint,
)
from etl.spark import build_session
from masking.kanonymity import KAnonymityReport, quasi_identifier_columns, with_k_anonymity
from masking.keys import KeyProvider, key_provider
from masking.manifest import TableManifest, manifest_for
from masking.policy import to_masked, tokenization, with_unparsed_counts

DEFAULTS = {"num_partitions": "4", "allow_primary": "false", "full_refresh": "false", "lake": ""}


@dataclass(frozen=True)
class ExtractResult:
    snapshot: Snapshot
    source_endpoint: str
    window: ExtractWindow
    quality: QualityReport
    k_anonymity: KAnonymityReport | None
    zero_dates: dict[str, int]
    source_types: dict[str, str]
    pending_bookmark: Bookmark | None  # committed only after the warehouse load succeeded
    full_reason: str | None = None  # why the run read the whole table; None if incremental


LOOKBACK = dt.timedelta(minutes=10)
SAFETY_LAG = dt.timedelta(seconds=2)


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:8]}"


def with_business_date(df: DataFrame, manifest: TableManifest) -> DataFrame:
    """The business date of each row in the issuer's time zone (partitions the output)."""
    if not manifest.business_date:
        return df
    source = F.col(manifest.business_date)
    if isinstance(df.schema[manifest.business_date].dataType, DateType):
        return df.withColumn(BUSINESS_DATE, source)
    return df.withColumn(BUSINESS_DATE, F.to_date(F.from_utc_timestamp(source, BUSINESS_TIMEZONE)))


def with_run_metadata(df: DataFrame, run_id: str, extracted_at: dt.datetime) -> DataFrame:
    return df.withColumn("_run_id", F.lit(run_id)).withColumn(
        "_extracted_at", F.lit(extracted_at).cast("timestamp")
    )


def version_change(recorded: dict[str, int], now: dict[str, int]) -> str:
    """`pan v1 -> v2, normalizers v2 -> v3`: what changed between two tokenizations."""
    return ", ".join(
        f"{name} v{recorded.get(name, '?')} -> v{now.get(name, '?')}"
        for name in sorted(set(recorded) | set(now))
        if recorded.get(name) != now.get(name)
    )


def full_reason(
    manifest: TableManifest,
    requested: bool,
    loaded: dict[str, int] | None,
    published: Snapshot | None,
    tokens: dict[str, int],
) -> str | None:
    """Why this run must read the whole table, or None when it may be incremental.

    `loaded` is what the bookmark records of the warehouse table's versions (None: no
    bookmark). A table's tokens must all come from one key version and normalizer version:
    when what was loaded, or published, differs from what the tokens would be made with
    now, an incremental run would add rows under the new versions to rows under the old
    ones, so the run re-tokenizes every row and the full snapshot replaces the table. The
    bookmark is compared too because a snapshot can be published and its load then fail.
    """
    if requested:
        return "full refresh requested"
    recorded = published.tokenization if published is not None else {}
    for versions in (loaded or {}, recorded):
        if tokens and versions and versions != tokens:
            return f"key or normalizer version changed: {version_change(versions, tokens)}"
    if quasi_identifier_columns(manifest):
        return "k-anonymity is a property of the whole population"
    if loaded is None:
        return "no bookmark"
    if tokens and not (loaded and recorded):
        return "the bookmark or snapshot records no key and normalizer versions"
    return None


def run(
    spark: SparkSession,
    table: str,
    run_id: str,
    lake: Path,
    keys: KeyProvider,
    num_partitions: int = 4,
    allow_primary: bool = False,
    full_refresh: bool = False,
    bookmarks: BookmarkStore | None = None,
    lookback: dt.timedelta = LOOKBACK,
) -> ExtractResult:
    """Extract the window since the bookmark, mask, gate and publish one table's snapshot.

    The run holds the table's lease throughout (a second run of the table fails at once)
    and first deletes the data files that killed or failed runs left. A run refused by the
    gate, or failing after its write started, deletes its data files before it raises:
    only its counts reports stay.
    """
    manifest = manifest_for(table)
    with table_lease(lake, table, run_id):
        discard_leftovers(lake, table, run_id)
        try:
            return _run_leased(
                spark,
                manifest,
                run_id,
                lake,
                keys,
                num_partitions,
                allow_primary,
                full_refresh,
                bookmarks,
                lookback,
            )
        except BaseException:
            published = current(lake, table)
            if published is None or published.run_id != run_id:
                discard_data(run_dir(lake, table, run_id))
            raise


def _run_leased(
    spark: SparkSession,
    manifest: TableManifest,
    run_id: str,
    lake: Path,
    keys: KeyProvider,
    num_partitions: int,
    allow_primary: bool,
    full_refresh: bool,
    bookmarks: BookmarkStore | None,
    lookback: dt.timedelta,
) -> ExtractResult:
    table = manifest.table
    endpoint = source_endpoint()
    guard_replica(endpoint, allow_primary=allow_primary)
    # First: a table missing from the source is one clear line, not a driver error.
    columns = source_columns(endpoint, table)
    tokens = tokenization(manifest, keys)
    bookmark = None if full_refresh else (bookmarks or BookmarkStore()).read(table)
    loaded = None if bookmark is None else bookmark.tokenization
    reason = full_reason(manifest, full_refresh, loaded, current(lake, table), tokens)
    since = bookmark.watermark_at if bookmark is not None and reason is None else None
    window = plan_window(endpoint, manifest, since, lookback, SAFETY_LAG)
    extracted_at = dt.datetime.now(dt.UTC)
    # Counted before the read: a row updated meanwhile leaves the window either way, and
    # the gate's count check then fails the run rather than let it go unnoticed.
    profile = profile_window(endpoint, manifest, window, columns)
    source = extract_table(spark, endpoint, manifest, num_partitions, window, columns, profile.keys)
    source, unparsed = with_unparsed_counts(source, manifest)
    masked, k_report = with_k_anonymity(
        to_masked(source, manifest, keys, as_of=extracted_at.date()), manifest
    )
    not_null = [name for name, column in columns.items() if not column.nullable]
    dated = with_business_date(masked, manifest)
    checks = row_checks(dated, manifest, not_null)
    kind = "full" if window.full else "incremental"
    preload_great_expectations()
    snapshot = write_snapshot(
        checks.observed(with_run_metadata(dated, run_id, extracted_at)),
        lake,
        table,
        run_id,
        kind,
        tokens,
    )
    quality = validate(
        snapshot.data_dir, manifest, profile.rows, checks, unparsed.get if unparsed else {}
    )
    (snapshot.data_dir / "_quality.json").write_text(
        json.dumps({**asdict(quality), "success": quality.success}, default=str)
    )
    if k_report is not None:
        (snapshot.data_dir / "_k_anonymity.json").write_text(json.dumps(asdict(k_report)))
    if not quality.success:
        raise Finding(
            f"{table}: data-quality gate failed ({', '.join(quality.failed)}); nothing was "
            f"published or loaded, the run's data files were deleted (its counts stay) and the "
            f"bookmark is unchanged. Counts: {snapshot.data_dir / '_quality.json'}"
        )
    zero_dates = profile.zero_dates(
        parquet_nulls(snapshot.data_dir, list(profile.nulls_before_read))
    )
    publish(lake, snapshot)
    pending = None
    if window.upper is not None and manifest.cursor is not None:
        pending = Bookmark(
            table,
            manifest.cursor,
            window.upper.isoformat(),
            run_id,
            dt.datetime.now(dt.UTC).isoformat(),
            tokens,
        )
    types = {name: column.column_type for name, column in columns.items()}
    return ExtractResult(
        snapshot,
        endpoint.display,
        window,
        quality,
        k_report,
        zero_dates,
        types,
        pending,
        reason if window.full else None,
    )


def main(argv: list[str] | None = None) -> None:
    """Glue/spark-submit entry: extract, gate, publish, load BigQuery, then move the bookmark."""
    from etl.config import warehouse_settings
    from etl.pipeline import run_tables

    args = resolved_options(argv or sys.argv, ["JOB_NAME", "table"], DEFAULTS)
    spark = build_session(args["JOB_NAME"])
    job = init_job(args["JOB_NAME"], spark, args)
    [result] = run_tables(
        spark,
        [args["table"]],
        Path(args["lake"]) if args["lake"] else lake_dir(),
        key_provider(),
        warehouse_settings(),
        num_partitions=int(args["num_partitions"]),
        allow_primary=args["allow_primary"].lower() == "true",
        full_refresh=args["full_refresh"].lower() == "true",
    )
    job.commit()
    why = f" ({result.full_reason})" if result.full_reason else ""
    print(
        f"{result.table}: {result.kind} run{why}, {result.rows_written} rows written, "
        f"{result.rows_loaded} rows in the warehouse table"
    )


if __name__ == "__main__":
    sys.exit(run_reporting_errors(main))
