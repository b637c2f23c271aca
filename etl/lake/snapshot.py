"""Run-scoped Parquet snapshots, published atomically by a pointer object.

Each run writes to ``<lake>/<table>/runs/<run_id>/`` and only then replaces
``<lake>/<table>/CURRENT.json``, with a conditional write over the pointer version the run
read when it started (etl.lake.store): of two runs of one table only one can publish, and a
run killed at any point leaves the previous snapshot and pointer untouched; readers always
see a complete run. The lake is a directory, s3:// or gs:// (etl.lake.store.Store).
A run that is refused or fails before it publishes deletes its data files and keeps its
counts reports; what killed runs leave behind is deleted by the next run of the table
(under the table's lease, etl/lake/lease.py, so never while the run may still be live).
"""

from __future__ import annotations

import functools
import json
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
from pyspark.sql import DataFrame, SparkSession

from etl.errors import CardlakeError
from etl.lake.store import Store, as_store

BUSINESS_DATE = "business_date"
KEEP_RUNS = 3
POINTER = "CURRENT.json"
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

    path is the run's location (a directory, or an s3:// or gs:// URI). base_runs lists the
    runs whose union (latest row per primary key) is the table's state. tokenization names
    what its tokens depend on (masking.policy.tokenization): the version of each key its
    token columns use and the normalizers' version; {} for a table without token columns,
    and in pointers written before it was recorded.
    """

    table: str
    run_id: str
    path: str
    rows: int
    kind: str = "full"
    base_runs: tuple[str, ...] = ()
    tokenization: dict[str, int] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)  # masking.policy.token_key_ids

    @functools.cached_property
    def files(self) -> Store:
        """The run's files (one Store, so one filesystem client, per snapshot)."""
        return Store(self.path)

    def dataset(self) -> ds.FileSystemDataset:
        return self.files.parquet("")


@dataclass(frozen=True)
class Pointer:
    """A table's published snapshot as a run read it, with the version a publish must find."""

    snapshot: Snapshot | None
    version: str | None


def run_key(table: str, run_id: str) -> str:
    return f"{table}/runs/{run_id}"


@dataclass(frozen=True)
class LakeRun:
    """One run of one table in a lake: where its files go."""

    lake: Store
    table: str
    run_id: str

    @property
    def key(self) -> str:
        return run_key(self.table, self.run_id)

    @property
    def uri(self) -> str:
        return self.lake.uri_of(self.key)


def write_snapshot(
    df: DataFrame,
    run: LakeRun,
    previous: Snapshot | None,
    kind: str = "full",
    tokenization: dict[str, int] | None = None,
) -> Snapshot:
    """Write the run's Parquet files; the snapshot is not visible until published.

    Files are flat, one per task, with business_date as a column: BigQuery partitions on
    load, and date directories would cost a sort or a shuffle of every row to save nothing.
    Spark writes straight to the lake when it has a filesystem for the lake's scheme (on
    Glue, S3 is built in). Otherwise (local Spark without the s3a or GCS connector jars) it
    writes to a local temporary directory and the files are copied under the run's prefix.
    """
    writer = (
        df.write.mode("errorifexists")
        .option("compression", "zstd")
        .option("parquet.dictionary.page.size", DICTIONARY_PAGE_BYTES)
    )
    if spark_has_filesystem(df.sparkSession, run.lake):
        writer.parquet(run.uri)
    else:
        with tempfile.TemporaryDirectory(prefix=f"cardlake-{run.run_id}-") as staging:
            writer.parquet(f"{staging}/out")
            run.lake.upload_tree(Path(staging) / "out", run.key)
    rows = run.lake.parquet(run.key).count_rows()
    base: tuple[str, ...] = (run.run_id,)
    if kind == "incremental" and previous is not None:
        base = (*previous.base_runs, run.run_id)
    return Snapshot(run.table, run.run_id, run.uri, rows, kind, base, dict(tokenization or {}))


def spark_has_filesystem(spark: SparkSession, lake: Store) -> bool:
    """Whether Spark's Hadoop configuration has a filesystem for the lake's scheme."""
    if lake.is_local:
        return True
    jvm = spark._jvm
    assert jvm is not None, "a classic (not Connect) SparkSession"
    try:
        jvm.org.apache.hadoop.fs.FileSystem.getFileSystemClass(
            lake.scheme, spark._jsc.hadoopConfiguration()
        )
    except Exception:  # py4j's error: no FileSystem for scheme
        return False
    return True


def footer_nulls(meta: Any, group: int, columns: list[str]) -> dict[str, int | None]:
    """NULLs per column in one row group of a Parquet file, from its footer's statistics;
    None for a chunk written without a null count."""
    index = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
    nulls: dict[str, int | None] = {}
    for column in columns:
        statistics = meta.row_group(group).column(index[column]).statistics
        counted = statistics is not None and statistics.has_null_count
        nulls[column] = statistics.null_count if counted else None
    return nulls


def parquet_nulls(snapshot: Snapshot, columns: list[str]) -> dict[str, int]:
    """NULLs per column in every Parquet file of a snapshot, from the footers' statistics.

    A column chunk written without a null count (Spark always writes one) is read instead.
    """
    nulls = dict.fromkeys(columns, 0)
    for fragment in snapshot.dataset().get_fragments():
        meta = fragment.metadata
        groups = [footer_nulls(meta, g, columns) for g in range(meta.num_row_groups)]
        for column in columns:
            counts = [group[column] for group in groups]
            if all(count is not None for count in counts):
                nulls[column] += sum(count or 0 for count in counts)
            else:
                nulls[column] += fragment.to_table(columns=[column]).column(0).null_count
    return nulls


def write_report(snapshot: Snapshot, name: str, document: dict) -> str:
    """Store a counts report in the run's directory; returns its location."""
    assert name in REPORT_FILES, name
    snapshot.files.write_text(name, json.dumps(document, default=str))
    return snapshot.files.uri_of(name)


def read_pointer(lake: Store | str | Path, table: str) -> Pointer:
    store = as_store(lake)
    found = store.read(f"{table}/{POINTER}")
    if found is None:
        return Pointer(None, None)
    try:
        stored = json.loads(found.text)
    except ValueError:
        stored = None
    if not (isinstance(stored, dict) and {"table", "run_id", "path", "rows"} <= stored.keys()):
        raise CardlakeError(
            f"{store.uri_of(f'{table}/{POINTER}')} is not a snapshot pointer; nothing was "
            "read or written. Restore it (the runs under runs/ are intact) or delete it, "
            "and the next run of the table is a full refresh"
        )
    # Pointers of earlier versions may carry fields this one dropped, or lack new ones.
    known = {f.name for f in fields(Snapshot)} - {"base_runs", "tokenization", "key_ids"}
    snapshot = Snapshot(
        **{k: v for k, v in stored.items() if k in known},
        base_runs=tuple(stored.get("base_runs", ())),
        tokenization={str(k): int(v) for k, v in (stored.get("tokenization") or {}).items()},
        key_ids={str(k): str(v) for k, v in (stored.get("key_ids") or {}).items()},
    )
    return Pointer(snapshot, found.version)


def current(lake: Store | str | Path, table: str) -> Snapshot | None:
    return read_pointer(lake, table).snapshot


def publish(lake: Store | str | Path, snapshot: Snapshot, over: Pointer) -> None:
    """Make the snapshot the table's published one, if the pointer is still `over` (what
    the run read when it started); otherwise another run published meanwhile, and this
    run's snapshot is not published."""
    store = as_store(lake)
    snapshot.files.write_text(PUBLISHED_MARKER, "")
    document = json.dumps(asdict(snapshot), indent=2)
    if not store.replace_if(f"{snapshot.table}/{POINTER}", document, over.version):
        raise CardlakeError(
            f"{snapshot.table}: another run published the table while run {snapshot.run_id} "
            "ran, so this run did not publish; its data files were deleted, and the published "
            "snapshot and the bookmark are the other run's. Run it again to pick up later rows"
        )
    _prune(store, snapshot.table, keep=KEEP_RUNS)


def current_snapshots(lake: Store | str | Path) -> list[Snapshot]:
    store = as_store(lake)
    found = (current(store, name) for name in store.children("", directories_only=True))
    return [s for s in found if s is not None]


def discard_data(lake: Store | str | Path, table: str, run_id: str) -> None:
    """Delete a run's data files (Parquet, Spark's markers and checksums, partial output),
    keeping its counts reports; the directory goes too once nothing is left."""
    store, key = as_store(lake), run_key(table, run_id)
    for name in _data_files(store, key):
        store.delete(f"{key}/{name}")
    store.remove_empty_dirs(key)


def _data_files(store: Store, key: str) -> list[str]:
    """A run directory's files other than its counts reports, relative to it."""
    prefix = len(key) + 1
    return [name for name in (f[prefix:] for f in store.files(key)) if name not in REPORT_FILES]


def discard_leftovers(lake: Store | str | Path, table: str, run_id: str) -> list[str]:
    """Delete the data files of every run of the table that is neither this run, nor ever
    published (the current snapshot, the runs it is made of, and superseded ones that
    _prune keeps for readers still on them); their reports stay.

    Call it only while holding the table's lease: any other run directory is then what a
    killed or failed run left behind, never the output of a live one. Returns the run ids
    whose data files were deleted.
    """
    store = as_store(lake)
    published = current(store, table)
    keep = {run_id}
    if published is not None:
        keep |= {published.run_id, *published.base_runs}
    swept = []
    for name in store.children(f"{table}/runs", directories_only=True):
        key = run_key(table, name)
        if name in keep or store.exists(f"{key}/{PUBLISHED_MARKER}"):
            continue
        if _data_files(store, key):
            swept.append(name)
        discard_data(store, table, name)
    return swept


def _prune(store: Store, table: str, keep: int) -> None:
    """Drop old runs and leftovers of killed runs, never the published one."""
    published = current(store, table)
    needed = set(published.base_runs) if published else set()
    for old in store.children(f"{table}/runs", directories_only=True)[:-keep]:
        if old not in needed:
            store.delete_tree(run_key(table, old))
