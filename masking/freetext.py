"""PAN, e-mail and phone detection inside free text, in Spark built-ins only.

A PAN candidate is a run of 13-19 digits, optionally separated by single spaces or
dashes, not touching other digits. Only Luhn-valid candidates are PANs, so order numbers
and phone numbers survive. The Luhn sum is an `aggregate` over the candidate's digits,
still in the JVM (higher-order functions run interpreted, which is most of what free-text
redaction costs; see bench/masking.py). Text without a digit or an @ skips all of it.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

PAN_CANDIDATE = r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])"
# The same digits without look-arounds, for RE2 (pyarrow): it finds every PAN_CANDIDATE
# and also longer digit runs, so it only decides which columns need the exact search.
PAN_DIGIT_RUN = r"[0-9](?:[ -]?[0-9]){12}"
EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
PHONE = r"(?<![0-9])(?:\+81[ -]?|0)[0-9]{1,4}[ -]?[0-9]{1,4}[ -]?[0-9]{3,4}(?![0-9])"
PAN_MARK, EMAIL_MARK, PHONE_MARK = "[PAN]", "[EMAIL]", "[PHONE]"


def _luhn_ok(candidate: Column) -> Column:
    digits = F.regexp_replace(candidate, "[^0-9]", "")
    n = F.length(digits)

    def add_digit(total: Column, i: Column) -> Column:
        d = F.substring(digits, n - i + 1, 1).cast("int")
        doubled = F.when(d * 2 > 9, d * 2 - 9).otherwise(d * 2)
        return total + F.when(i % 2 == 0, doubled).otherwise(d)

    total = F.aggregate(F.sequence(F.lit(1), n), F.lit(0), add_digit)
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
    redacted = F.regexp_replace(no_email, PHONE, PHONE_MARK)
    # Every pattern needs a digit or an @: most free text skips the costly path entirely.
    return F.when(text.rlike("[0-9@]"), redacted).otherwise(text)


def pan_candidate(text: Column) -> Column:
    """True where a string holds 13-19 digits that could be a PAN: the cheap built-in test
    that spares most strings the Luhn sum, a higher-order function run interpreted."""
    return (F.length(text) >= 13) & text.rlike(PAN_CANDIDATE)


def has_pan(text: Column) -> Column:
    """True where a string holds at least one Luhn-valid PAN."""
    return pan_candidate(text) & (F.size(luhn_pans(text)) > 0)


def string_columns(df: DataFrame) -> list[str]:
    return [f.name for f in df.schema.fields if isinstance(f.dataType, StringType)]


def count_pans(df: DataFrame) -> dict[str, int]:
    """Rows holding at least one Luhn-valid PAN, per string column. Counts only, no values."""
    string_cols = string_columns(df)
    if not string_cols:
        return {}
    row = df.agg(*[F.count_if(has_pan(F.col(c))).alias(c) for c in string_cols]).first()
    assert row is not None
    return {c: int(row[c]) for c in string_cols}
