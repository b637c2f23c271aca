"""Data-quality gate with Great Expectations 1.x, run on the written (unpublished) snapshot.

Per table: primary key not null and unique, the source's NOT NULL columns not null,
tokens 32 bytes, declared value ranges, row count equal to the source's count for the
window, and no Luhn-valid PAN in any string column. The report keeps counts only: GX is
asked for no unexpected samples, and only whitelisted count fields are copied out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from masking.freetext import count_pans
from masking.manifest import TableManifest
from masking.policy import output_name, token_column

COUNT_FIELDS = ("element_count", "unexpected_count", "missing_count", "observed_value")
TOKEN_BYTES = 32  # HMAC-SHA256
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}


@dataclass(frozen=True)
class QualityReport:
    table: str
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(c["success"] for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c["check"] for c in self.checks if not c["success"]]


def _expectations(
    manifest: TableManifest, not_null: list[str], source_rows: int, columns: list[str]
) -> list[Any]:
    import great_expectations.expectations as gxe

    checks: list[Any] = [gxe.ExpectTableRowCountToEqual(value=source_rows)]
    for key in manifest.primary_key:
        checks += [
            gxe.ExpectColumnValuesToNotBeNull(column=key),
            gxe.ExpectColumnValuesToBeUnique(column=key),
        ]
    for policy in manifest.columns.values():
        if policy.action == "token":
            checks.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=_token_bytes(policy.name), min_value=TOKEN_BYTES, max_value=TOKEN_BYTES
                )
            )
        # Quasi-identifiers are exempt: k-anonymity suppression blanks them by design.
        contract = policy.klass != "quasi_identifier"
        if contract and policy.name in not_null and policy.action in {"keep", "redact"}:
            name = output_name(policy)
            if name in columns and name not in manifest.primary_key:
                checks.append(gxe.ExpectColumnValuesToNotBeNull(column=name))
        if policy.name in not_null and policy.action == "token":
            checks.append(gxe.ExpectColumnValuesToNotBeNull(column=_token_bytes(policy.name)))
        if policy.min is not None or policy.max is not None:
            checks.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=policy.name, min_value=policy.min, max_value=policy.max
                )
            )
    return checks


def _token_bytes(column: str) -> str:
    return f"_token_bytes_{column}"


def _class_name(expectation_type: str) -> str:
    """expect_column_values_to_not_be_null -> ExpectColumnValuesToNotBeNull."""
    return "".join(part.capitalize() for part in expectation_type.split("_"))


def validate(
    df: DataFrame, manifest: TableManifest, not_null: list[str], source_rows: int
) -> QualityReport:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    # GX sees only the columns its expectations name, and a token as its length in bytes
    # (NULL when the token is): a small frame to cache, even for a table larger than memory.
    tokens = [p.name for p in manifest.columns.values() if p.action == "token"]
    expectations = _expectations(manifest, not_null, source_rows, df.columns)
    helpers = {_token_bytes(t): F.length(token_column(t)) for t in tokens}
    named = {getattr(e, "column", None) for e in expectations} - {None}
    frame = df.select(
        *[c for c in df.columns if c in named],
        *[column.alias(name) for name, column in helpers.items()],
    )
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_spark(f"cardlake_{manifest.table}")
        .add_dataframe_asset(manifest.table)
        .add_batch_definition_whole_dataframe("run")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    # One suite, one validation: GX resolves the metrics of all expectations together, on
    # a cached frame, instead of one pass over the snapshot per expectation.
    frame.cache()
    try:
        suite = gx.ExpectationSuite(name=f"cardlake_{manifest.table}", expectations=expectations)
        outcome = batch.validate(suite, result_format=RESULT_FORMAT)
        checks = []
        for result in outcome.results:
            config = result.expectation_config
            assert config is not None
            column = (config.kwargs or {}).get("column")
            counts = {k: v for k, v in (result.result or {}).items() if k in COUNT_FIELDS}
            checks.append(
                {
                    "check": f"{_class_name(config.type)}({column or ''})",
                    "success": bool(result.success),
                    **counts,
                }
            )
    finally:
        frame.unpersist()
    pans = sum(count_pans(df).values())
    checks.append(
        {"check": "NoLuhnValidPanInStrings()", "success": pans == 0, "unexpected_count": pans}
    )
    return QualityReport(manifest.table, checks)
