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

from etl.config import BUSINESS_TIMEZONE, lake_dir
from etl.errors import CardlakeError
from etl.glue import init_job, resolved_options
from etl.snapshot import BUSINESS_DATE, Snapshot, publish, write_snapshot
from etl.source import check_dialect_canary, extract_table, guard_replica, source_endpoint
from etl.spark import build_session
from masking.freetext import count_pans
from masking.kanonymity import KAnonymityReport, with_k_anonymity
from masking.keys import KeyProvider, key_provider
from masking.manifest import TableManifest, manifest_for
from masking.policy import to_masked

DEFAULTS = {"num_partitions": "4", "allow_primary": "false", "lake": "", "run_id": ""}


@dataclass(frozen=True)
class ExtractResult:
    snapshot: Snapshot
    source_endpoint: str
    k_anonymity: KAnonymityReport | None


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


def check_no_pans(spark: SparkSession, snapshot: Snapshot) -> None:
    """Gate: the written snapshot must hold no Luhn-valid PAN in any string column."""
    hits = count_pans(spark.read.parquet(snapshot.path))
    bad = {c: n for c, n in hits.items() if n}
    if bad:
        raise CardlakeError(
            f"{snapshot.table}: PAN-like values found in {bad} (counts of rows); "
            "nothing was published. Classify those columns as pan or free_text"
        )


def run(
    spark: SparkSession,
    table: str,
    run_id: str,
    lake: Path,
    keys: KeyProvider,
    num_partitions: int = 4,
    allow_primary: bool = False,
) -> ExtractResult:
    manifest = manifest_for(table)
    endpoint = source_endpoint()
    guard_replica(endpoint, allow_primary=allow_primary)
    extracted_at = dt.datetime.now(dt.UTC)
    source = extract_table(spark, endpoint, manifest, num_partitions)
    check_dialect_canary(source)
    masked, k_report = with_k_anonymity(
        to_masked(source, manifest, keys, as_of=extracted_at.date()), manifest
    )
    output = with_run_metadata(with_business_date(masked, manifest), run_id, extracted_at)
    snapshot = write_snapshot(output, lake, table, run_id)
    if k_report is not None:
        (snapshot.data_dir / "_k_anonymity.json").write_text(json.dumps(asdict(k_report)))
    check_no_pans(spark, snapshot)
    publish(lake, snapshot)
    return ExtractResult(snapshot, endpoint.display, k_report)


def main(argv: list[str] | None = None) -> None:
    args = resolved_options(argv or sys.argv, ["JOB_NAME", "table"], DEFAULTS)
    spark = build_session(args["JOB_NAME"])
    job = init_job(args["JOB_NAME"], spark, args)
    result = run(
        spark,
        table=args["table"],
        run_id=args["run_id"] or new_run_id(),
        lake=Path(args["lake"]) if args["lake"] else lake_dir(),
        keys=key_provider(),
        num_partitions=int(args["num_partitions"]),
        allow_primary=args["allow_primary"].lower() == "true",
    )
    job.commit()
    print(f"{result.snapshot.table}: {result.snapshot.rows} rows -> {result.snapshot.path}")
    if result.k_anonymity:
        print(result.k_anonymity.summary)


if __name__ == "__main__":
    main()
