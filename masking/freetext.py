"""PAN, e-mail and phone detection inside free text, in Spark built-ins only.

A PAN candidate is a run of 13-19 digits, optionally separated by single spaces or
dashes, not touching other digits. Only Luhn-valid candidates are PANs, so order numbers
and phone numbers survive. The Luhn sum is a closed-form expression evaluated per
candidate inside `filter`, still in the JVM (higher-order functions run interpreted, which
is what free-text redaction costs; see bench/masking.py).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

PAN_CANDIDATE = r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])"
EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
PHONE = r"(?<![0-9])(?:\+81[ -]?|0)[0-9]{1,4}[ -]?[0-9]{1,4}[ -]?[0-9]{3,4}(?![0-9])"
PAN_MARK, EMAIL_MARK, PHONE_MARK = "[PAN]", "[EMAIL]", "[PHONE]"


MAX_PAN_DIGITS = 19


def _luhn_ok(candidate: Column) -> Column:
    """Luhn check as one closed-form expression (code-generated, no nested lambda).

    Left-padding with zeros keeps the Luhn sum, so every candidate is read as 19 digits
    and position i from the right is doubled when i is even.
    """
    digits = F.regexp_replace(candidate, "[^0-9]", "")
    padded = F.lpad(digits, MAX_PAN_DIGITS, "0")
    total: Column = F.lit(0)
    for i in range(1, MAX_PAN_DIGITS + 1):
        d = F.substring(padded, MAX_PAN_DIGITS - i + 1, 1).cast("int")
        total = total + (((d * 2) % 10 + (d * 2) / 10).cast("int") if i % 2 == 0 else d)
    n = F.length(digits)
    return (n >= 13) & (n <= MAX_PAN_DIGITS) & (total % 10 == 0)


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
