"""Apply a table manifest to a DataFrame: tokens, generalizations, redaction, drops."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from etl.contracts.manifest import ColumnPolicy, TableManifest
from masking.jvm import JvmMasking, jvm_masking
from masking.keys import KeyProvider
from masking.reference import NORMALIZER_VERSION


def token_column(name: str) -> str:
    return f"{name}_token"


def key_version_column(name: str) -> str:
    return f"{name}_token_key_version"


def tokenization(manifest: TableManifest, keys: KeyProvider) -> dict[str, int]:
    """What a table's masked values depend on: the current version of every key its token
    columns use, and the version of the normalizers and detectors (free-text redaction
    included). Snapshots and bookmarks record it; when it changes, the next run re-masks
    every row so that one table never mixes versions."""
    actions = {p.action for p in manifest.columns.values()}
    names = sorted({p.key_name for p in manifest.columns.values() if p.action == "token"})
    used = {name: keys.current(name).version for name in names}
    if not used and "redact" not in actions:
        return {}
    return {**used, "normalizers": NORMALIZER_VERSION}


def token_key_ids(manifest: TableManifest, keys: KeyProvider) -> dict[str, str]:
    """The random id of the current version of every key a table's token columns use (none
    for keys from documents that predate ids): which key, beyond its version number."""
    names = {p.key_name for p in manifest.columns.values() if p.action == "token"}
    ids = {name: keys.current(name).key_id for name in sorted(names)}
    return {name: key_id for name, key_id in ids.items() if key_id}


GENERALIZED_SUFFIX = {
    "year": "_year",
    "age_band": "_age_band",
    "postal3": "_prefix3",
    "prefecture": "",
}


def output_name(policy: ColumnPolicy) -> str:
    """Name of a kept or generalized column in the masked table."""
    if policy.action == "generalize":
        assert policy.generalize is not None
        return policy.name + GENERALIZED_SUFFIX[policy.generalize]
    return policy.name


def _generalize(policy: ColumnPolicy, col: Column, as_of: dt.date) -> Column:
    method = policy.generalize
    if method == "year":
        return F.year(col)
    if method == "age_band":
        age = F.floor(F.months_between(F.lit(as_of), col) / 12).cast("int")
        low = (F.floor(age / 10) * 10).cast("int")
        return F.concat(low.cast("string"), F.lit("-"), (low + 9).cast("string"))
    if method == "postal3":
        return F.substring(F.regexp_replace(col, "[^0-9]", ""), 1, 3)
    if method == "prefecture":
        return col
    raise ValueError(method)


def masked_columns(
    manifest: TableManifest, keys: KeyProvider, as_of: dt.date, masking: JvmMasking
) -> list[Column]:
    """The select list of the masked table, in manifest order."""
    out: list[Column] = []
    for policy in manifest.columns.values():
        col = F.col(policy.name)
        if policy.action in {"drop", "exclude"}:
            continue
        if policy.action == "keep":
            out.append(col)
        elif policy.action == "token":
            key = keys.current(policy.key_name)
            token = masking.token(col.cast("string"), key, policy.normalize)
            out.append(token.alias(token_column(policy.name)))
            out.append(F.lit(key.version).cast("int").alias(key_version_column(policy.name)))
            if policy.klass == "pan" and policy.display:
                digits = masking.pan_display_digits(col.cast("string"))
                if "bin6" in policy.display:
                    out.append(F.substring(digits, 1, 6).alias(f"{policy.name}_bin6"))
                if "last4" in policy.display:
                    out.append(F.substring(digits, -4, 4).alias(f"{policy.name}_last4"))
        elif policy.action == "generalize":
            out.append(_generalize(policy, col, as_of).alias(output_name(policy)))
        elif policy.action == "redact":
            out.append(masking.redact(col).alias(policy.name))
    return out


def with_unparsed_counts(
    df: DataFrame, manifest: TableManifest
) -> tuple[DataFrame, Observation | None]:
    """The source frame, counting as it is read the values each token column's normalizer
    could not parse (they are tokenized in their NFKC form). Counts only, for the report;
    None where no column has a parsing normalizer."""
    masking = jvm_masking(df.sparkSession)
    counters = [
        F.count_if(masking.unparsed(F.col(p.name).cast("string"), p.normalize)).alias(p.name)
        for p in manifest.columns.values()
        if p.action == "token" and p.normalize in {"pan", "email", "phone"}
    ]
    if not counters:
        return df, None
    observation = Observation("cardlake_unparsed")
    return df.observe(observation, *counters), observation


def to_masked(
    df: DataFrame, manifest: TableManifest, keys: KeyProvider, as_of: dt.date
) -> DataFrame:
    return df.select(*masked_columns(manifest, keys, as_of, jvm_masking(df.sparkSession)))
