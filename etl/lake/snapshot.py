"""Run-scoped Parquet snapshots, published atomically by a pointer file.

Each run writes to ``<lake>/<table>/runs/<run_id>/`` and only then replaces
``<lake>/<table>/CURRENT.json`` (write-to-temp + os.replace). A run killed at any point
leaves the previous snapshot and pointer untouched; readers always see a complete run.
A run that is refused or fails before it publishes deletes its data files and keeps its
counts reports; what killed runs leave behind is deleted by the next run of the table
(under the table's lease, etl/lease.py, so never while the run may still be live).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import DataFrame

from etl.fileio import write_atomically

BUSINESS_DATE = "business_date"
KEEP_RUNS = 3
# What a run directory keeps when its data files go: counts only, never a row value.
REPORT_FILES = frozenset({"_quality.json", "_k_anonymity.json"})
# Written into a run's directory when it is published: a superseded published run is kept
# for readers still on it (until _prune drops it), unlike what a killed run left.
PUBLISHED_MARKER = "_PUBLISHED"
# A token column repeats one 32-byte token per card or member. Parquet's default 1 MiB
# dictionary holds ~30k of them and then falls back to plain bytes (2.4x the output at 10M
# transactions); 16 MiB keeps half a million distinct tokens dictionary-encoded.
DICTIONARY_PAGE_BYTES = 16 << 20


@dataclass(frozen=True)
class Snapshot:
    """One run's Parquet output: a full table, or the rows changed in an incremental window.

    base_runs lists the runs whose union (latest row per primary key) is the table's state.
    tokenization names what its tokens depend on (masking.policy.tokenization): the version
    of each key its token columns use and the normalizers' version; {} for a table without
    token columns, and in pointers written before it was recorded.
    """

    table: str
    run_id: str
    path: str
    rows: int
    kind: str = "full"
    base_runs: tuple[str, ...] = ()
    tokenization: dict[str, int] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return Path(self.path)


def table_dir(lake: Path, table: str) -> Path:
    return lake / table


def run_dir(lake: Path, table: str, run_id: str) -> Path:
    return table_dir(lake, table) / "runs" / run_id


@dataclass(frozen=True)
class LakeRun:
    """One run of one table in a lake: where its files go."""

    lake: Path
    table: str
    run_id: str

    @property
    def data_dir(self) -> Path:
        return run_dir(self.lake, self.table, self.run_id)


def write_snapshot(
    df: DataFrame,
    run: LakeRun,
    kind: str = "full",
    tokenization: dict[str, int] | None = None,
) -> Snapshot:
    """Write the run's Parquet files; the snapshot is not visible until published.

    Files are flat, one per task, with business_date as a column: BigQuery partitions on
    load, and date directories would cost a sort or a shuffle of every row to save nothing.
    """
    lake, table, run_id, data_dir = run.lake, run.table, run.run_id, run.data_dir
    (
        df.write.mode("errorifexists")
        .option("compression", "zstd")
        .option("parquet.dictionary.page.size", DICTIONARY_PAGE_BYTES)
        .parquet(str(data_dir))
    )
    rows = parquet_rows(data_dir)
    previous = current(lake, table)
    base: tuple[str, ...] = (run_id,)
    if kind == "incremental" and previous is not None:
        base = (*previous.base_runs, run_id)
    return Snapshot(table, run_id, str(data_dir), rows, kind, base, dict(tokenization or {}))


def parquet_rows(directory: Path) -> int:
    """Rows in every Parquet file below a directory, from the footers (no data read)."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in directory.rglob("*.parquet"))


def parquet_nulls(directory: Path, columns: list[str]) -> dict[str, int]:
    """NULLs per column in every Parquet file below a directory, from the footers' statistics.

    A column chunk written without a null count (Spark always writes one) is read instead.
    """
    nulls = dict.fromkeys(columns, 0)
    for path in directory.rglob("*.parquet"):
        meta = pq.ParquetFile(path).metadata
        index = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
        for column in columns:
            chunks = [meta.row_group(g).column(index[column]) for g in range(meta.num_row_groups)]
            if all(c.statistics is not None and c.statistics.has_null_count for c in chunks):
                nulls[column] += sum(c.statistics.null_count for c in chunks)
            else:
                nulls[column] += pq.read_table(path, columns=[column]).column(0).null_count
    return nulls


def publish(lake: Path, snapshot: Snapshot) -> None:
    (snapshot.data_dir / PUBLISHED_MARKER).touch()
    write_atomically(
        table_dir(lake, snapshot.table) / "CURRENT.json", json.dumps(asdict(snapshot), indent=2)
    )
    _prune(lake, snapshot.table, keep=KEEP_RUNS)


def current(lake: Path, table: str) -> Snapshot | None:
    pointer = table_dir(lake, table) / "CURRENT.json"
    if not pointer.exists():
        return None
    stored = json.loads(pointer.read_text())
    # Pointers of earlier versions may carry fields this one dropped, or lack new ones.
    known = {f.name for f in fields(Snapshot)} - {"base_runs", "tokenization"}
    return Snapshot(
        **{k: v for k, v in stored.items() if k in known},
        base_runs=tuple(stored.get("base_runs", ())),
        tokenization={str(k): int(v) for k, v in (stored.get("tokenization") or {}).items()},
    )


def current_snapshots(lake: Path) -> list[Snapshot]:
    if not lake.exists():
        return []
    found = (current(lake, d.name) for d in sorted(lake.iterdir()) if d.is_dir())
    return [s for s in found if s is not None]


def discard_data(directory: Path) -> None:
    """Delete a run directory's data files (Parquet, Spark's markers and checksums, partial
    output), keeping its counts reports; the directory goes too once nothing is left."""
    if not directory.is_dir():
        return
    for root, dirs, files in os.walk(directory, topdown=False):
        here = Path(root)
        for name in files:
            if not (here == directory and name in REPORT_FILES):
                (here / name).unlink(missing_ok=True)
        for name in dirs:
            with contextlib.suppress(OSError):  # not empty: a report, or a symlink
                (here / name).rmdir()
    with contextlib.suppress(OSError):
        directory.rmdir()


def discard_leftovers(lake: Path, table: str, run_id: str) -> list[str]:
    """Delete the data files of every run of the table that is neither this run, nor ever
    published (the current snapshot, the runs it is made of, and superseded ones that
    _prune keeps for readers still on them); their reports stay.

    Call it only while holding the table's lease: any other run directory is then what a
    killed or failed run left behind, never the output of a live one. Returns the run ids
    whose data files were deleted.
    """
    runs = table_dir(lake, table) / "runs"
    if not runs.is_dir():
        return []
    published = current(lake, table)
    keep = {run_id}
    if published is not None:
        keep |= {published.run_id, *published.base_runs}
    swept = []
    for directory in sorted(runs.iterdir()):
        published_once = (directory / PUBLISHED_MARKER).exists()
        if directory.name in keep or not directory.is_dir() or published_once:
            continue
        if any(
            p.is_file() and not (p.parent == directory and p.name in REPORT_FILES)
            for p in directory.rglob("*")
        ):
            swept.append(directory.name)
        discard_data(directory)
    return swept


def _prune(lake: Path, table: str, keep: int) -> None:
    """Drop old runs and leftovers of killed runs, never the published one."""
    published = current(lake, table)
    needed = set(published.base_runs) if published else set()
    runs = sorted((table_dir(lake, table) / "runs").iterdir(), key=lambda p: p.name)
    for old in runs[:-keep]:
        if old.name not in needed:
            shutil.rmtree(old, ignore_errors=True)
