"""PAN, e-mail and phone detection inside free text, in Spark built-ins only.

A PAN candidate is a run of 13-19 digits, optionally separated by single spaces or
dashes, not touching other digits. Only Luhn-valid candidates are PANs, so order numbers
and phone numbers survive. The Luhn sum is computed per candidate with higher-order
functions (aggregate over a sequence), still inside the JVM.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

PAN_CANDIDATE = r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])"
EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
PHONE = r"(?<![0-9])(?:\+81[ -]?|0)[0-9]{1,4}[ -]?[0-9]{1,4}[ -]?[0-9]{3,4}(?![0-9])"
PAN_MARK, EMAIL_MARK, PHONE_MARK = "[PAN]", "[EMAIL]", "[PHONE]"


def _luhn_ok(candidate: Column) -> Column:
    digits = F.regexp_replace(candidate, "[^0-9]", "")
    n = F.length(digits)

    def digit_value(acc: Column, i: Column) -> Column:
        d = F.substring(digits, n - i + 1, 1).cast("int")
        doubled = F.when(d * 2 > 9, d * 2 - 9).otherwise(d * 2)
        return acc + F.when(i % 2 == 0, doubled).otherwise(d)

    total = F.aggregate(F.sequence(F.lit(1), n), F.lit(0), digit_value)
    return (n >= 13) & (n <= 19) & (total % 10 == 0)


def luhn_pans(text: Column) -> Column:
    """Array of the Luhn-valid PAN candidates found in a string column."""
    candidates = F.regexp_extract_all(text, F.lit(PAN_CANDIDATE), 0)
    return F.filter(candidates, _luhn_ok)


def redact(text: Column) -> Column:
    """Replace PANs, e-mail addresses and phone numbers by markers."""
    no_pan = F.aggregate(
        luhn_pans(text), text, lambda acc, pan: F.replace(acc, pan, F.lit(PAN_MARK))
    )
    no_email = F.regexp_replace(no_pan, EMAIL, EMAIL_MARK)
    return F.regexp_replace(no_email, PHONE, PHONE_MARK)


def count_pans(df: DataFrame) -> dict[str, int]:
    """Rows holding at least one Luhn-valid PAN, per string column. Counts only, no values."""
    string_cols = [f.name for f in df.schema.fields if isinstance(f.dataType, StringType)]
    if not string_cols:
        return {}
    row = df.agg(
        *[F.count_if(F.size(luhn_pans(F.col(c))) > 0).alias(c) for c in string_cols]
    ).first()
    assert row is not None
    return {c: int(row[c]) for c in string_cols}
