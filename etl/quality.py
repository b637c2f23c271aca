"""Data-quality gate on a masked snapshot, before it is published.

Two kinds of rules, each checked where it is cheapest:

- Row rules are counted by the Spark pass that writes the snapshot (`DataFrame.observe`),
  so they cost no read of their own: the source's NOT NULL columns not null, tokens 32
  bytes (and present where the source column is NOT NULL), declared value ranges, and PAN
  candidates (13-19 digits) per string column. Only a column that has candidates is read
  again, for the Luhn sum, which would cost every row its code generation in the write.
- Set rules need the whole written snapshot: Great Expectations 1.x checks the row count
  against the source's count for the window and the primary key for nulls and duplicates.
  It reads only the key columns of the Parquet files, with pandas in this process: a
  64-bit integer per row, where a Spark validation would cost several Spark jobs.

The report keeps counts only: the row rules are counts by construction, GX is asked for no
unexpected samples, and only whitelisted count fields are copied out of its results.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from masking.freetext import count_pans, pan_candidate, string_columns
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


@dataclass(frozen=True)
class RowChecks:
    """Rows breaking each row rule, counted by whichever action first runs the frame."""

    observation: Observation
    rules: tuple[str, ...]
    string_columns: tuple[str, ...]

    def results(self, read_snapshot: Callable[[], DataFrame]) -> list[dict[str, Any]]:
        """Call only after that action succeeded (Observation.get waits for it).

        The snapshot is read again only for the Luhn sum of columns with PAN candidates.
        """
        observed = self.observation.get
        rows = int(observed["rows"])
        checks = [
            {
                "check": rule,
                "success": int(observed[f"rule_{i}"]) == 0,
                "element_count": rows,
                "unexpected_count": int(observed[f"rule_{i}"]),
            }
            for i, rule in enumerate(self.rules)
        ]
        candidates = {
            column: int(observed[f"pan_candidates_{i}"])
            for i, column in enumerate(self.string_columns)
        }
        suspects = [column for column, found in candidates.items() if found]
        pans = count_pans(read_snapshot().select(*suspects)) if suspects else {}
        return checks + [
            {
                "check": f"NoLuhnValidPan({column})",
                "success": pans.get(column, 0) == 0,
                "element_count": rows,
                "unexpected_count": pans.get(column, 0),
                "candidates": found,
            }
            for column, found in candidates.items()
        ]


def _row_rules(df: DataFrame, manifest: TableManifest, not_null: list[str]) -> dict[str, Column]:
    """Rule name -> the condition a breaking row meets."""
    rules: dict[str, Column] = {}
    for policy in manifest.columns.values():
        if policy.action == "token":
            token = F.col(token_column(policy.name))
            rules[f"TokenIs32Bytes({policy.name})"] = token.isNotNull() & (
                F.length(token) != TOKEN_BYTES
            )
            if policy.name in not_null:
                rules[f"NotNull({token_column(policy.name)})"] = token.isNull()
        # Quasi-identifiers are exempt: k-anonymity suppression blanks them by design.
        contract = policy.klass != "quasi_identifier"
        if contract and policy.name in not_null and policy.action in {"keep", "redact"}:
            name = output_name(policy)
            if name in df.columns and name not in manifest.primary_key:
                rules[f"NotNull({name})"] = F.col(name).isNull()
        if policy.min is not None or policy.max is not None:
            value = F.col(policy.name)
            below = value < F.lit(policy.min) if policy.min is not None else F.lit(False)
            above = value > F.lit(policy.max) if policy.max is not None else F.lit(False)
            rules[f"Between({policy.name})"] = below | above
    return rules


def with_row_checks(
    df: DataFrame, manifest: TableManifest, not_null: list[str]
) -> tuple[DataFrame, RowChecks]:
    """The frame, unchanged, with its row rules counted as it is written."""
    rules = _row_rules(df, manifest, not_null)
    strings = string_columns(df)
    observation = Observation(f"cardlake_quality_{manifest.table}_{uuid.uuid4().hex[:8]}")
    counted = df.observe(
        observation,
        F.count(F.lit(1)).alias("rows"),
        *[F.count_if(broken).alias(f"rule_{i}") for i, broken in enumerate(rules.values())],
        *[
            F.count_if(pan_candidate(F.col(c))).alias(f"pan_candidates_{i}")
            for i, c in enumerate(strings)
        ],
    )
    return counted, RowChecks(observation, tuple(rules), tuple(strings))


def _class_name(expectation_type: str) -> str:
    """expect_column_values_to_not_be_null -> ExpectColumnValuesToNotBeNull."""
    return "".join(part.capitalize() for part in expectation_type.split("_"))


def _set_expectations(manifest: TableManifest, source_rows: int) -> list[Any]:
    import great_expectations.expectations as gxe

    keys = list(manifest.primary_key)
    checks: list[Any] = [gxe.ExpectTableRowCountToEqual(value=source_rows)]
    checks += [gxe.ExpectColumnValuesToNotBeNull(column=key) for key in keys]
    if len(keys) == 1:
        checks.append(gxe.ExpectColumnValuesToBeUnique(column=keys[0]))
    else:
        checks.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=keys))
    return checks


NULLABLE_INTEGERS = {
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
}


def _as_integers(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """An integral decimal (BIGINT UNSIGNED reads as DECIMAL(20,0)) as a 64-bit integer."""
    if pa.types.is_decimal(column.type) and column.type.scale == 0:
        for target in (pa.int64(), pa.uint64()):
            try:
                return pc.cast(column, target)
            except pa.ArrowInvalid:
                continue
    return column


def key_frame(snapshot_dir: Path, keys: list[str]) -> pd.DataFrame:
    """The snapshot's key columns, exact, as pandas columns that compare fast."""
    table = ds.dataset(str(snapshot_dir), format="parquet").to_table(columns=keys)
    for i, name in enumerate(table.column_names):
        table = table.set_column(i, name, _as_integers(table.column(i)))
    return table.to_pandas(types_mapper=NULLABLE_INTEGERS.get)


def validate(
    spark: SparkSession,
    snapshot_dir: Path,
    manifest: TableManifest,
    source_rows: int,
    row_checks: RowChecks,
) -> QualityReport:
    """GX's set rules on the written snapshot, then the row rules counted while writing it."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas(f"cardlake_{manifest.table}")
        .add_dataframe_asset(manifest.table)
        .add_batch_definition_whole_dataframe("run")
        .get_batch(
            batch_parameters={"dataframe": key_frame(snapshot_dir, list(manifest.primary_key))}
        )
    )
    suite = gx.ExpectationSuite(
        name=f"cardlake_{manifest.table}",
        expectations=_set_expectations(manifest, source_rows),
    )
    outcome = batch.validate(suite, result_format=RESULT_FORMAT)
    checks = []
    for result in outcome.results:
        config = result.expectation_config
        assert config is not None
        kwargs = config.kwargs or {}
        column = kwargs.get("column") or ",".join(kwargs.get("column_list") or [])
        counts = {k: v for k, v in (result.result or {}).items() if k in COUNT_FIELDS}
        checks.append(
            {
                "check": f"{_class_name(config.type)}({column})",
                "success": bool(result.success),
                **counts,
            }
        )
    row_results = row_checks.results(lambda: spark.read.parquet(str(snapshot_dir)))
    return QualityReport(manifest.table, [*checks, *row_results])
