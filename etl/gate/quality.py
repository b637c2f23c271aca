"""Data-quality gate on a masked snapshot, before it is published.

The rules, and where each is checked:

- Great Expectations 1.x checks the table's suite (etl.gate.suites: generated from the
  manifest, stored next to it) through one Checkpoint per table run, with its stores under
  the lake (etl.gate.gx_project): row count equal to the source's count for the window,
  primary key not null and unique, the source's NOT NULL columns and tokens not null,
  declared ranges. It validates an in-process pandas frame of only the columns those rules
  read, filled in one streamed pass over the written Parquet files into storage allocated
  once: keys as 64-bit integers, range columns as floats, and for a column checked only
  for nulls, its validity alone (a one-byte categorical column, null exactly where it is).
  At 10M transactions the frame is about 250 MB, whatever the columns hold.
- Tokens are 32 bytes: counted during the write itself (`DataFrame.observe`), so the gate
  reads a token column back only for its not-null rule, and only a chunk that the
  footers do not settle. GX's pandas engine measures a value's length as the length of
  `str(value)`, which for bytes is their repr, so `ExpectColumnValueLengthsToEqual`
  cannot check a binary column.
- PANs are counted in the same observation, per string column, by the JVM detector that
  redaction uses: NFKC first, any typed separators, Luhn-valid. GX has no such detector (a
  regex cannot know every form NFKC turns into digits, nor the Luhn sum), and the count
  costs the write nothing extra.

The report keeps counts only: GX is asked for no unexpected samples (result format BASIC,
partial_unexpected_count 0), only whitelisted count fields are copied out of its results,
and the write's counts are counts by construction.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from etl.contracts.manifest import MANIFEST_DIR, TableManifest
from etl.errors import CardlakeError
from etl.gate.gx_project import GxRun
from etl.lake.snapshot import footer_nulls
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
    the source declares NOT NULL, the token columns, the string columns, and what the
    write counts as it goes: rows with a PAN per string column, tokens not 32 bytes."""

    source_not_null: tuple[str, ...]
    token_columns: tuple[str, ...]
    string_columns: tuple[str, ...]
    counts: Observation = field(default_factory=lambda: Observation("cardlake_gate"))

    def observed(self, df: DataFrame) -> DataFrame:
        """The frame to write, counting the gate's row rules as it is written."""
        sizes = [
            F.count_if(F.length(F.col(c)) != TOKEN_BYTES).alias(f"size:{c}")
            for c in self.token_columns
        ]
        counters = [*pan_counters(df), *sizes]
        return df.observe(self.counts, *counters) if counters else df

    def results(self, rows: int) -> list[dict[str, Any]]:
        """The write's counts: tokens of another size than 32 bytes per token column (a NULL
        is the not-null rule's), rows holding a PAN per string column."""
        counts = self.counts.get if self.token_columns or self.string_columns else {}
        tokens = [
            (f"TokenIs32Bytes({column.removesuffix('_token')})", counts[f"size:{column}"])
            for column in self.token_columns
        ]
        pans = [(f"NoLuhnValidPan({column})", counts[column]) for column in self.string_columns]
        return [
            {
                "check": check,
                "success": count == 0,
                "element_count": rows,
                "unexpected_count": count,
            }
            for check, count in [*tokens, *pans]
        ]


def row_checks(df: DataFrame, manifest: TableManifest, not_null: list[str]) -> RowChecks:
    """The gate's view of a masked frame about to be written; not_null: the source's NOT
    NULL columns."""
    tokens = (token_column(p.name) for p in manifest.columns.values() if p.action == "token")
    present = tuple(c for c in tokens if c in df.columns)
    return RowChecks(tuple(not_null), present, tuple(string_columns(df)))


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


VALIDITY = pd.CategoricalDtype(["present"])
STORAGE = {"key": np.int64, "number": np.float64, "validity": np.int8}  # validity: -1 is NULL
# Every 64-bit integer, signed or not, and every DECIMAL(p,0) Spark writes (p <= 38).
WIDE_KEYS = pa.decimal128(38, 0)


def _integral(arrow_type: pa.DataType) -> bool:
    return pa.types.is_integer(arrow_type) or (
        pa.types.is_decimal(arrow_type) and arrow_type.scale == 0
    )


class _FrameColumn:
    """One column of the frame GX validates, filled batch by batch into storage allocated
    once for the whole snapshot: building the frame never holds more than the frame itself
    and one batch (collecting the batches' pieces and joining them held about four times
    the frame at 10M rows).

    - "key": 64-bit integers and a null mask. BIGINT UNSIGNED reads as DECIMAL(20,0): the
      storage turns unsigned when a batch needs it. A key of another type (a string) is
      kept as read, in its batches' pieces; an integral one that fits no single 64-bit
      type (beyond 2**64, or negative and beyond 2**63) as 38-digit decimals.
    - "number": a range column as the floats GX compares with its bounds, NaN where null.
    - "validity": only where a column is null, as a one-byte categorical.
    """

    def __init__(self, name: str, kind: str, rows: int, arrow_type: pa.DataType) -> None:
        self.name, self.kind, self.arrow_type = name, kind, arrow_type
        stored = kind != "key" or _integral(arrow_type)
        dtype = np.uint64 if kind == "key" and arrow_type == pa.uint64() else STORAGE[kind]
        self.values = np.zeros(rows if stored else 0, dtype)
        self.missing = np.zeros(rows if kind == "key" and stored else 0, np.bool_)
        self.negative = False  # whether a stored key is negative: it cannot turn unsigned
        self.pieces: list[pa.Array] | None = None if stored else []

    def settled_by(self, nulls: int | None, start: int, rows: int) -> bool:
        """Whether a row group's footer NULL count (None: not recorded) gives this column's
        rows without reading them: only a validity column with no NULLs or only NULLs."""
        if self.kind != "validity" or nulls is None:
            return False
        if nulls == 0:
            return True  # the storage starts as present
        if nulls == rows:
            self.values[start : start + rows] = -1
            return True
        return False

    def add(self, column: pa.Array, start: int) -> None:
        stop = start + len(column)
        if self.kind == "validity":
            self.values[start:stop] = pc.is_valid(column).to_numpy(zero_copy_only=False) - 1
        elif self.kind == "number":
            # Unsafe: an integer beyond 2**53 rounds, as GX's float bounds would compare it.
            numbers = pc.cast(column, pa.float64(), safe=False)
            self.values[start:stop] = numbers.to_numpy(zero_copy_only=False)
        elif self.pieces is not None:
            self.pieces.append(pc.cast(column, WIDE_KEYS) if _integral(column.type) else column)
        else:
            self._add_key(column, start, stop)

    def _add_key(self, column: pa.Array, start: int, stop: int) -> None:
        integers = as_integers(column)
        signed = pa.types.is_signed_integer(integers.type)
        negative = signed and (pc.min(integers).as_py() or 0) < 0
        unsigned = self.values.dtype == np.uint64
        if integers.type == pa.uint64() and not unsigned and not self.negative:
            self.values, unsigned = self.values.view(np.uint64), True  # all keys so far < 2**63
        if not pa.types.is_integer(integers.type) or (
            negative if unsigned else integers.type == pa.uint64()
        ):
            # No single 64-bit type holds them all: the rows so far and from now on as
            # decimals (safe casts: each fits, so no error can quote a key).
            stored = pa.array(self.values[:start], mask=self.missing[:start])
            self.pieces = [pc.cast(stored, WIDE_KEYS), pc.cast(column, WIDE_KEYS)]
            self.arrow_type = WIDE_KEYS
            self.values, self.missing = self.values[:0], self.missing[:0]
            return
        self.negative = self.negative or negative
        self.values[start:stop] = pc.cast(integers.fill_null(0), str(self.values.dtype)).to_numpy()
        self.missing[start:stop] = integers.is_null().to_numpy(zero_copy_only=False)

    def series(self) -> pd.Series:
        if self.pieces is not None:
            column = pa.chunked_array(self.pieces, type=self.arrow_type)
            return column.to_pandas().rename(self.name)
        if self.kind == "validity":
            values = pd.Categorical.from_codes(self.values, dtype=VALIDITY, validate=False)
            return pd.Series(values, name=self.name, copy=False)
        if self.kind == "key" and self.missing.any():
            # A nullable integer column only when the key has NULLs: one without hashes
            # faster in GX's uniqueness check.
            return pd.Series(pd.arrays.IntegerArray(self.values, self.missing), name=self.name)
        return pd.Series(self.values, name=self.name, copy=False)


@dataclass(frozen=True)
class GateFrame:
    """The frame GX validates and the rows read into it."""

    frame: pd.DataFrame
    rows: int


def gate_frame(dataset: ds.FileSystemDataset, manifest: TableManifest) -> GateFrame:
    """One streamed pass over the written files: the columns the suite reads, reduced to
    what its rules need.

    A column checked only for NULLs is not read where a row group's statistics say its
    chunk holds no NULL (or only NULLs); where Spark recorded no statistics, or the chunk
    mixes values and NULLs, it is read. The rest is read a batch at a time, without
    buffering column chunks ahead (a dataset scan decodes whole row groups ahead: 0.8 GB
    more at 10M rows).
    """
    import pyarrow.parquet as pq

    from etl.gate.suites import not_null_columns, ranges

    present = set(dataset.schema.names)
    keys = [c for c in manifest.primary_key if c in present]
    numbers = [c for c in ranges(manifest) if c not in keys and c in present]
    nulls_only = [
        c for c in not_null_columns(manifest) if c not in keys and c not in numbers and c in present
    ]
    fragments = list(dataset.get_fragments())
    total = sum(fragment.metadata.num_rows for fragment in fragments)
    kinds = {**dict.fromkeys(keys, "key"), **dict.fromkeys(numbers, "number")}
    kinds |= dict.fromkeys(nulls_only, "validity")
    schema = dataset.schema
    columns = [_FrameColumn(c, kind, total, schema.field(c).type) for c, kind in kinds.items()]
    rows = 0
    for fragment in fragments:
        meta = fragment.metadata
        if absent := [c.name for c in columns if c.name not in meta.schema.names]:
            raise CardlakeError(
                f"{manifest.table}: snapshot file {fragment.path} has no column "
                f"{', '.join(absent)}; the files of one write must share a schema"
            )
        with dataset.filesystem.open_input_file(fragment.path) as file:
            reader = pq.ParquetFile(file, metadata=meta, pre_buffer=False)
            for group in range(meta.num_row_groups):
                nulls = footer_nulls(meta, group, [c.name for c in columns])
                group_rows = meta.row_group(group).num_rows
                read = [c for c in columns if not c.settled_by(nulls[c.name], rows, group_rows)]
                if read:
                    _read_row_group(reader, group, read, rows)
                rows += group_rows
    # Give back the decoded batches' memory (Arrow's allocator keeps it) before GX runs.
    pa.default_memory_pool().release_unused()
    frame = pd.DataFrame({c.name: c.series() for c in columns}, copy=False)
    return GateFrame(frame, rows)


def _read_row_group(reader: Any, group: int, columns: list[_FrameColumn], start: int) -> None:
    batches = reader.iter_batches(
        BATCH_ROWS, row_groups=[group], columns=[c.name for c in columns], use_threads=False
    )
    for batch in batches:
        for column in columns:
            column.add(batch.column(column.name), start)
        start += batch.num_rows


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
    snapshot: ds.FileSystemDataset,
    manifest: TableManifest,
    source_rows: int,
    row_checks: RowChecks,
    stores: GxRun | None = None,
) -> QualityReport:
    """The table's GX suite through its Checkpoint over the written snapshot, then the
    token sizes and the PANs the write counted. With `stores` (the lake and the run), the
    Checkpoint, the suite and the validation result are stored under the lake's _gx/;
    without, nowhere.
    The report's unparsed_values are the caller's to fill in (they come from the write)."""
    from etl.gate import gx_project
    from etl.gate.suites import suite_parameters

    gx_project.great_expectations()
    read = gate_frame(snapshot, manifest)
    outcome = gx_project.run_checkpoint(
        stores,
        suite_for(manifest),
        read.frame,
        suite_parameters(manifest, source_rows, list(row_checks.source_not_null)),
    )
    checks = [*_gx_checks(outcome), *row_checks.results(read.rows)]
    return QualityReport(manifest.table, checks)
