"""Data-quality gate on a masked snapshot, before it is published.

Two kinds of rules, each checked where it is cheapest:

- Row rules are counted in one streamed pyarrow pass over the written Parquet files, so
  they check what is on disk and cost the Spark write nothing: the source's NOT NULL
  columns not null, tokens 32 bytes (and present where the source column is NOT NULL),
  declared value ranges. Counting these inside the write (`DataFrame.observe`) cost ~10%
  of a 1M-row job (bench/run.py).
- PANs are counted during the write itself (`DataFrame.observe`), per string column, by the
  JVM detector that redaction uses: NFKC first, any typed separators, Luhn-valid. A
  pre-filter on the written files cannot know every form NFKC turns into digits.
- Set rules need the whole written snapshot: Great Expectations 1.x checks the row count
  against the source's count for the window and the primary key for nulls and duplicates.
  It reads only the key columns of the Parquet files, with pandas in this process: a
  64-bit integer per row, where a Spark validation would cost several Spark jobs.

The report keeps counts only: the row rules are counts by construction, GX is asked for no
unexpected samples, and only whitelisted count fields are copied out of its results.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pyspark.sql import DataFrame, Observation

from etl.contracts.manifest import TableManifest
from masking.freetext import pan_counters, string_columns
from masking.policy import output_name, token_column

COUNT_FIELDS = ("element_count", "unexpected_count", "missing_count", "observed_value")
TOKEN_BYTES = 32  # HMAC-SHA256
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}
BATCH_ROWS = 128 * 1024  # rows per streamed batch: memory stays bounded at any table size


@dataclass(frozen=True)
class QualityReport:
    table: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    # Values a normalizer could not parse, per token column: tokenized in their NFKC form
    # (a phone number with letters, an e-mail without @). Reported, not a failure.
    unparsed_values: dict[str, int] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return all(c["success"] for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c["check"] for c in self.checks if not c["success"]]

    @property
    def summary(self) -> str:
        return f"{sum(c['success'] for c in self.checks)}/{len(self.checks)} passed"


@dataclass(frozen=True)
class RowRule:
    """A rule every written row must keep, counted over the snapshot's Parquet files."""

    name: str
    column: str
    breaking: Callable[[pa.ChunkedArray | pa.Array], int]


def _nulls(values: pa.ChunkedArray | pa.Array) -> int:
    return values.null_count


def _not_token_sized(values: pa.ChunkedArray | pa.Array) -> int:
    return _true_count(pc.not_equal(pc.binary_length(values), TOKEN_BYTES))


def _outside(low: float | None, high: float | None) -> Callable[[Any], int]:
    def breaking(values: pa.ChunkedArray | pa.Array) -> int:
        below = _true_count(pc.less(values, low)) if low is not None else 0
        above = _true_count(pc.greater(values, high)) if high is not None else 0
        return below + above

    return breaking


def _true_count(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)


@dataclass(frozen=True)
class RowChecks:
    """The row rules of one table, and the PANs counted per string column by the write."""

    rules: tuple[RowRule, ...]
    string_columns: tuple[str, ...]
    pans: Observation = field(default_factory=lambda: Observation("cardlake_pans"))

    def observed(self, df: DataFrame) -> DataFrame:
        """The frame to write, counting rows with a PAN per string column as it is written."""
        return df.observe(self.pans, *pan_counters(df)) if self.string_columns else df

    def results(self, dataset: ds.Dataset) -> list[dict[str, Any]]:
        """Rows breaking each rule, one streamed pass over the written files, and the PANs
        the write counted."""
        columns = sorted({r.column for r in self.rules})
        broken = dict.fromkeys([r.name for r in self.rules], 0)
        rows = 0
        batches = dataset.to_batches(
            columns=columns, batch_size=BATCH_ROWS, batch_readahead=1, fragment_readahead=1
        )
        for batch in batches:
            rows += batch.num_rows
            for rule in self.rules:
                broken[rule.name] += rule.breaking(batch.column(rule.column))
        if not columns:
            rows = dataset.count_rows()
        checks = [
            {
                "check": name,
                "success": count == 0,
                "element_count": rows,
                "unexpected_count": count,
            }
            for name, count in broken.items()
        ]
        pans = self.pans.get if self.string_columns else {}
        return checks + [
            {
                "check": f"NoLuhnValidPan({column})",
                "success": pans[column] == 0,
                "element_count": rows,
                "unexpected_count": pans[column],
            }
            for column in self.string_columns
        ]


def row_checks(df: DataFrame, manifest: TableManifest, not_null: list[str]) -> RowChecks:
    """The row rules for a masked frame about to be written."""
    rules: list[RowRule] = []
    for policy in manifest.columns.values():
        if policy.action == "token":
            token = token_column(policy.name)
            rules.append(RowRule(f"TokenIs32Bytes({policy.name})", token, _not_token_sized))
            if policy.name in not_null:
                rules.append(RowRule(f"NotNull({token})", token, _nulls))
        # Quasi-identifiers are exempt: k-anonymity suppression blanks them by design.
        contract = policy.klass != "quasi_identifier"
        if contract and policy.name in not_null and policy.action in {"keep", "redact"}:
            name = output_name(policy)
            if name in df.columns and name not in manifest.primary_key:
                rules.append(RowRule(f"NotNull({name})", name, _nulls))
        if policy.min is not None or policy.max is not None:
            rules.append(
                RowRule(f"Between({policy.name})", policy.name, _outside(policy.min, policy.max))
            )
    return RowChecks(tuple(rules), tuple(string_columns(df)))


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


def key_frame(dataset: ds.Dataset, keys: list[str]) -> pd.DataFrame:
    """The snapshot's key columns, exact, as pandas columns that compare fast."""
    table = dataset.to_table(columns=keys)
    for i, name in enumerate(table.column_names):
        table = table.set_column(i, name, _as_integers(table.column(i)))
    return table.to_pandas(types_mapper=NULLABLE_INTEGERS.get)


def preload_great_expectations() -> None:
    """Import GX on a background thread while Spark writes the snapshot.

    The import is ~4 s of Python on a cold process and the driver thread only waits for the
    JVM during the write; `validate`'s own import then finds it done (or waits for it).
    Call it once the job's own imports are done, so the two threads import nothing in turn.
    """
    if "great_expectations" not in sys.modules:
        threading.Thread(target=_preload, daemon=True).start()


def _preload() -> None:
    # A failure here resurfaces, with its traceback, at validate's own import.
    with contextlib.suppress(Exception):
        _great_expectations()


def _great_expectations() -> ModuleType:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations

    return great_expectations


def validate(
    snapshot: ds.Dataset,
    manifest: TableManifest,
    source_rows: int,
    row_checks: RowChecks,
    unparsed_values: dict[str, int],
) -> QualityReport:
    """GX's set rules, then the row rules, both over the written snapshot's files."""
    gx = _great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas(f"cardlake_{manifest.table}")
        .add_dataframe_asset(manifest.table)
        .add_batch_definition_whole_dataframe("run")
        .get_batch(batch_parameters={"dataframe": key_frame(snapshot, list(manifest.primary_key))})
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
    row_results = row_checks.results(snapshot)
    return QualityReport(manifest.table, [*checks, *row_results], dict(unparsed_values))
