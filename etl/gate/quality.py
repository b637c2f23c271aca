"""Data-quality gate on a masked snapshot, before it is published.

The rules, and where each is checked:

- Great Expectations 1.x checks the table's suite (etl.gate.suites: generated from the
  manifest, stored next to it) through one Checkpoint per table run, with its stores under
  the lake (etl.gate.gx_project): row count equal to the source's count for the window,
  primary key not null and unique, the source's NOT NULL columns and tokens not null,
  declared ranges. It validates an in-process pandas frame of only the columns those rules
  read, built in one streamed pyarrow pass over the written Parquet files: keys as 64-bit
  integers, range columns as floats, and for a column checked only for nulls, its
  validity alone (a one-byte categorical column, null exactly where it is), so the frame
  stays a few bytes per row whatever the column holds.
- Tokens are 32 bytes: counted in the same pyarrow pass. GX's pandas engine measures a
  value's length as the length of `str(value)`, which for bytes is their repr, so
  `ExpectColumnValueLengthsToEqual` cannot check a binary column.
- PANs are counted during the write itself (`DataFrame.observe`), per string column, by the
  JVM detector that redaction uses: NFKC first, any typed separators, Luhn-valid. GX has no
  such detector (a regex cannot know every form NFKC turns into digits, nor the Luhn sum),
  and the count costs the write nothing extra.

The report keeps counts only: GX is asked for no unexpected samples (result format BASIC,
partial_unexpected_count 0), only whitelisted count fields are copied out of its results,
and the pyarrow and Spark counts are counts by construction.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pyspark.sql import DataFrame, Observation

from etl.contracts.manifest import MANIFEST_DIR, TableManifest
from etl.gate.gx_project import GxRun
from masking.freetext import pan_counters, string_columns
from masking.policy import token_column

COUNT_FIELDS = ("element_count", "unexpected_count", "missing_count", "observed_value")
TOKEN_BYTES = 32  # HMAC-SHA256
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
class RowChecks:
    """What the gate needs to know of a masked frame before it is written: which columns
    the source declares NOT NULL, the token columns, and the PANs counted per string column
    by the write."""

    source_not_null: tuple[str, ...]
    token_columns: tuple[str, ...]
    string_columns: tuple[str, ...]
    pans: Observation = field(default_factory=lambda: Observation("cardlake_pans"))

    def observed(self, df: DataFrame) -> DataFrame:
        """The frame to write, counting rows with a PAN per string column as it is written."""
        return df.observe(self.pans, *pan_counters(df)) if self.string_columns else df

    def pan_results(self, rows: int) -> list[dict[str, Any]]:
        """Rows holding a PAN, per string column, as the write counted them."""
        pans = self.pans.get if self.string_columns else {}
        return [
            {
                "check": f"NoLuhnValidPan({column})",
                "success": pans[column] == 0,
                "element_count": rows,
                "unexpected_count": pans[column],
            }
            for column in self.string_columns
        ]


def row_checks(df: DataFrame, manifest: TableManifest, not_null: list[str]) -> RowChecks:
    """The gate's view of a masked frame about to be written; not_null: the source's NOT
    NULL columns."""
    tokens = tuple(token_column(p.name) for p in manifest.columns.values() if p.action == "token")
    return RowChecks(tuple(not_null), tokens, tuple(string_columns(df)))


def _class_name(expectation_type: str) -> str:
    """expect_column_values_to_not_be_null -> ExpectColumnValuesToNotBeNull."""
    return "".join(part.capitalize() for part in expectation_type.split("_"))


def as_integers(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """An integral decimal (BIGINT UNSIGNED reads as DECIMAL(20,0)) as a 64-bit integer."""
    if pa.types.is_decimal(column.type) and column.type.scale == 0:
        for target in (pa.int64(), pa.uint64()):
            try:
                return pc.cast(column, target)
            except pa.ArrowInvalid:
                continue
    return column


def _as_numbers(column: pa.Array) -> pa.Array:
    """A range column as the numbers GX compares with its bounds."""
    if pa.types.is_decimal(column.type):
        return pc.cast(column, pa.float64())
    return column


def _validity(column: pa.Array) -> pa.Array:
    """Only where a column is null: a one-category dictionary column (one byte per row),
    null exactly where the column is."""
    indices = pc.if_else(pc.is_valid(column), PRESENT, ABSENT)
    return pa.DictionaryArray.from_arrays(indices, PRESENT_VALUES)


PRESENT = pa.scalar(0, pa.int8())
ABSENT = pa.scalar(None, pa.int8())
PRESENT_VALUES = pa.array(["present"])
NULLABLE_INTEGERS = {pa.int64(): pd.Int64Dtype(), pa.uint64(): pd.UInt64Dtype()}


def _series(chunks: list[pa.Array], name: str, key: bool) -> pd.Series:
    """One column of the frame GX validates, from the batches' pieces of it.

    Integers without NULLs become plain numpy columns (a nullable one carries a mask and
    hashes slower in GX's uniqueness check); validity columns stay categorical.
    """
    column = pa.chunked_array(chunks)
    if key:
        column = as_integers(column)
    if column.null_count == 0 and not pa.types.is_dictionary(column.type):
        return pd.Series(column.to_numpy(), name=name)
    return column.to_pandas(types_mapper=NULLABLE_INTEGERS.get).rename(name)


@dataclass(frozen=True)
class GateFrame:
    """The frame GX validates and the counts taken while reading it."""

    frame: pd.DataFrame
    rows: int
    wrong_sized_tokens: dict[str, int]


def gate_frame(dataset: ds.Dataset, manifest: TableManifest, checks: RowChecks) -> GateFrame:
    """One streamed pass over the written files: the columns the suite reads, reduced to
    what its rules need, and the token columns' wrong-sized values counted. The frame is
    assembled column by column, so no second copy of the whole of it is ever held."""
    from etl.gate.suites import not_null_columns, ranges

    present = set(dataset.schema.names)
    keys = [c for c in manifest.primary_key if c in present]
    numbers = [c for c in ranges(manifest) if c not in keys and c in present]
    nulls_only = [
        c for c in not_null_columns(manifest) if c not in keys and c not in numbers and c in present
    ]
    tokens = [c for c in checks.token_columns if c in present]
    read = list(dict.fromkeys([*keys, *numbers, *nulls_only, *tokens]))
    wrong = dict.fromkeys(tokens, 0)
    pieces: dict[str, list[pa.Array]] = {c: [] for c in [*keys, *numbers, *nulls_only]}
    rows = 0
    batches = dataset.to_batches(
        columns=read, batch_size=BATCH_ROWS, batch_readahead=1, fragment_readahead=1
    )
    for batch in batches:
        rows += batch.num_rows
        for name in tokens:
            lengths = pc.binary_length(batch.column(name))
            wrong[name] += int(pc.sum(pc.not_equal(lengths, TOKEN_BYTES)).as_py() or 0)
        # Keys as read: one batch may fit int64 where another needs uint64 (cast per column).
        for name in keys:
            pieces[name].append(batch.column(name))
        for name in numbers:
            pieces[name].append(_as_numbers(batch.column(name)))
        for name in nulls_only:
            pieces[name].append(_validity(batch.column(name)))
    columns = {}
    for name in list(pieces):
        chunks = pieces.pop(name)
        if chunks:
            columns[name] = _series(chunks, name, key=name in keys)
    return GateFrame(pd.DataFrame(columns, copy=False), rows, wrong)


def preload_great_expectations() -> None:
    """Import GX on a background thread, so that the gate finds it imported.

    The import is ~4 s of Python on a cold process. The entry points start it before the
    JVM, whose start-up the driver thread only waits for; the pipeline starts it (if
    nobody did) before its first write, where it competes with Spark for the cores.
    `validate`'s own import then finds it done (or waits for it). Call it once the
    caller's own imports are done, so the two threads import nothing in turn.
    """
    if "great_expectations" not in sys.modules:
        threading.Thread(target=_preload, daemon=True).start()


def _preload() -> None:
    # A failure here resurfaces, with its traceback, at validate's own import.
    with contextlib.suppress(Exception):
        from etl.gate import gx_project

        gx_project.great_expectations()


def suite_for(manifest: TableManifest) -> Any:
    """The table's suite: the committed file next to the shipped manifests, or, for a
    manifest elsewhere (CARDLAKE_MANIFEST_DIR), the suite its manifest generates."""
    import great_expectations as gx

    from etl.gate.suites import SUITES_DIR, build_suite

    path = SUITES_DIR / f"{manifest.table}.json"
    if manifest.path.resolve().parent == MANIFEST_DIR and path.exists():
        return gx.ExpectationSuite(**json.loads(path.read_text()))
    return build_suite(manifest)


def _gx_checks(outcome: Any) -> list[dict[str, Any]]:
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
    return checks


def validate(
    snapshot: ds.Dataset,
    manifest: TableManifest,
    source_rows: int,
    row_checks: RowChecks,
    stores: GxRun | None = None,
) -> QualityReport:
    """The table's GX suite through its Checkpoint, then the token sizes and the PANs, all
    over the written snapshot. With `stores` (the lake and the run), the Checkpoint, the
    suite and the validation result are stored under the lake's _gx/; without, nowhere.
    The report's unparsed_values are the caller's to fill in (they come from the write)."""
    from etl.gate import gx_project
    from etl.gate.suites import suite_parameters

    gx_project.great_expectations()
    read = gate_frame(snapshot, manifest, row_checks)
    outcome = gx_project.run_checkpoint(
        stores,
        suite_for(manifest),
        read.frame,
        suite_parameters(manifest, source_rows, list(row_checks.source_not_null)),
    )
    tokens = [
        {
            "check": f"TokenIs32Bytes({column.removesuffix('_token')})",
            "success": count == 0,
            "element_count": read.rows,
            "unexpected_count": count,
        }
        for column, count in read.wrong_sized_tokens.items()
    ]
    checks = [*_gx_checks(outcome), *tokens, *row_checks.pan_results(read.rows)]
    return QualityReport(manifest.table, checks)
