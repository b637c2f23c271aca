"""Value normalization before tokenizing, as Spark expressions and as a Python reference.

The same person must get the same token whichever table or spelling the value comes
from: PAN digits only; e-mail trimmed and lowercased; phone in E.164 (default region JP);
names NFKC-normalized and trimmed. Both implementations must agree bit for bit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from pyspark.sql import Column
from pyspark.sql import functions as F

NORMALIZERS = ("none", "pan", "email", "phone", "name")
# Bumped whenever a normalizer's output changes for some input: tokens then change like on
# a key rotation, so snapshots record it and a change re-tokenizes every row.
NORMALIZER_VERSION = 2
JP_COUNTRY_CODE = "81"


def spark_normalize(kind: str, col: Column) -> Column:
    if kind == "none":
        return col
    if kind == "pan":
        return F.regexp_replace(col, r"[^0-9]", "")
    if kind == "email":
        return F.lower(F.trim(col))
    if kind == "phone":
        had_plus = F.trim(col).startswith("+")
        digits = F.regexp_replace(col, r"[^0-9]", "")
        e164 = (
            F.when(digits == "", F.lit(None))
            .when(had_plus, F.concat(F.lit("+"), digits))
            .when(
                digits.startswith("0"),
                F.concat(F.lit("+" + JP_COUNTRY_CODE), F.substring(digits, 2, 64)),
            )
            .otherwise(F.concat(F.lit("+" + JP_COUNTRY_CODE), digits))
        )
        return F.when(col.isNotNull(), e164)
    if kind == "name":
        # ICU ships with Spark 4 (collations); compose(s, true) is NFKC, in the JVM.
        nfkc = F.call_function(
            "reflect", F.lit("com.ibm.icu.text.Normalizer"), F.lit("compose"), col, F.lit(True)
        )
        return F.when(col.isNotNull(), F.trim(nfkc))
    raise ValueError(f"unknown normalizer {kind!r}")


def _py_phone(value: str) -> str | None:
    digits = re.sub(r"[^0-9]", "", value)
    if not digits:
        return None
    if value.strip().startswith("+"):
        return "+" + digits
    if digits.startswith("0"):
        return "+" + JP_COUNTRY_CODE + digits[1:]
    return "+" + JP_COUNTRY_CODE + digits


def _py_trim(value: str) -> str:
    # Spark's trim() removes only ASCII spaces, unlike str.strip().
    return value.strip(" ")


PY_NORMALIZERS: dict[str, Callable[[str], str | None]] = {
    "none": lambda v: v,
    "pan": lambda v: re.sub(r"[^0-9]", "", v),
    "email": lambda v: _py_trim(v).lower(),
    "phone": _py_phone,
    "name": lambda v: _py_trim(unicodedata.normalize("NFKC", v)),
}


def py_normalize(kind: str, value: str | None) -> str | None:
    """Pure-Python reference of :func:`spark_normalize`."""
    if value is None:
        return None
    return PY_NORMALIZERS[kind](value)
