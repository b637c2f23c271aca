"""Pure DataFrame-to-DataFrame steps of the job that are not masking (see masking.policy)."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType

from etl.contracts.manifest import TableManifest
from etl.lake.snapshot import BUSINESS_DATE
from etl.settings import BUSINESS_TIMEZONE


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
