"""PAN detection over DataFrames, with the JVM detector that redaction uses (masking/jvm).

A PAN is found on the NFKC form of a string: 13-19 digits in groups joined by short runs of
the separators people type (spaces, the dash family, dots, slashes, middle dots), Luhn-valid.
The publish gate and `cardlake scan` count rows with this detector; never values.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from masking.jvm import jvm_masking


def string_columns(df: DataFrame) -> list[str]:
    return [f.name for f in df.schema.fields if isinstance(f.dataType, StringType)]


def pan_counters(df: DataFrame) -> list[Column]:
    """Aggregates counting the rows holding a Luhn-valid PAN, one per string column."""
    masking = jvm_masking(df.sparkSession)
    return [F.count_if(masking.has_pan(F.col(c))).alias(c) for c in string_columns(df)]


def count_pans(df: DataFrame) -> dict[str, int]:
    """Rows holding at least one Luhn-valid PAN, per string column. Counts only, no values."""
    counters = pan_counters(df)
    if not counters:
        return {}
    row = df.agg(*counters).first()
    assert row is not None
    return {name: int(row[name]) for name in row.asDict()}
