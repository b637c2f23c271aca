"""Extraction benchmark: full masked extract of ~1M transactions, then an incremental run.

    .venv/bin/python -m bench.extract [--members 75000]
    .venv/bin/python -m bench.extract --rows 10000000 [--keep]

Runs the real job (replica -> Spark JDBC -> masking -> data-quality gate -> zstd Parquet,
no warehouse load) on a private primary + replica, changes 1% of the rows, and runs again.
Prints rows/s, rows/s per core, the driver's peak RSS and the incremental/full time ratio.
With --rows, the source is bench.run's: the seeded rows copied under new ids up to N, with
a buffer pool that holds them; reused when it is up with N rows and such a pool, kept
running with --keep. 10M rows take minutes to seed instead of a 750,000-member seed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.common import seeded_stack, write_results
from devstack import stack
from etl.extract.endpoint import source_endpoint
from etl.lake.bookmarks import BookmarkStore
from etl.lake.store import Store
from etl.pipeline import SAFETY_LAG, ExtractResult, RunContext, extract_and_publish
from etl.spark import build_session
from masking.keys import DocumentKeyProvider, new_key_document


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=75_000, help="~13 transactions each")
    parser.add_argument("--rows", type=int, help="transactions in bench.run's source instead")
    parser.add_argument("--keep", action="store_true", help="with --rows: leave it running")
    args = parser.parse_args()
    if args.keep and args.rows is None:
        parser.error("--keep applies to bench.run's source: pass --rows N with it")
    if args.rows is not None:
        from bench.run import _bench_manifests

        # bench.run's manifest (card_id and member_id tokens), set before any setting is read;
        # the directory is removed when `manifests` goes, at the end of main
        manifests = tempfile.TemporaryDirectory()
        os.environ["CARDLAKE_MANIFEST_DIR"] = str(_bench_manifests(Path(manifests.name) / "m"))
    keys = DocumentKeyProvider(new_key_document(dev_only=True), "bench")
    source = seeded_stack(args.members) if args.rows is None else _bench_source(args)
    with source as counts, tempfile.TemporaryDirectory() as tmp:
        # Started once the source's CARDLAKE_HOME is set, so it reads that home's settings.
        spark = build_session("cardlake-bench-extract")
        cores = spark.sparkContext.defaultParallelism
        lake, store = Store(Path(tmp) / "lake"), BookmarkStore(str(Path(tmp) / "bookmarks"))
        rows = counts["transactions"]

        def job(run_id: str) -> tuple[float, ExtractResult]:
            started = time.perf_counter()
            context = RunContext(
                spark=spark,
                source=source_endpoint(),
                keys=keys,
                lake=lake,
                bookmarks=store,
                run_id=run_id,
            )
            result = extract_and_publish(context, "transactions")
            return time.perf_counter() - started, result

        job("warmup")  # JVM, JDBC driver and buffer pool; not measured
        store.delete("transactions")
        full_s, full = job("full")
        assert full.pending_bookmark is not None and full.snapshot.kind == "full"
        store.write(full.pending_bookmark)
        changed = rows // 100
        _update_primary(changed)
        stack.wait_for_replica()
        time.sleep(SAFETY_LAG.total_seconds() + 0.5)
        inc_s, inc = job("incremental")
        assert inc.snapshot.kind == "incremental"
        ((pool_mib,),) = stack.execute(
            "replica", "etl", "SELECT @@innodb_buffer_pool_size / 1048576"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    write_results(
        "extract" if args.rows is None else f"extract-{args.rows}",
        ["run", "rows", "seconds", "rows/s", "rows/s per core"],
        [
            [
                "full (masked, DQ-gated Parquet)",
                full.snapshot.rows,
                f"{full_s:.1f}",
                f"{full.snapshot.rows / full_s:,.0f}",
                f"{full.snapshot.rows / full_s / cores:,.0f}",
            ],
            [
                f"incremental after {changed:,} updates",
                inc.snapshot.rows,
                f"{inc_s:.1f}",
                f"{inc.snapshot.rows / inc_s:,.0f}",
                "-",
            ],
        ],
        {
            "incremental / full time": f"{inc_s / full_s:.2f}",
            "driver peak RSS (MB, Python side; the JVM is a child process)": f"{peak_mb:,.0f}",
            "cores": cores,
            "replica's InnoDB buffer pool": f"{float(pool_mib):,.0f} MiB",
            "goals": "full >= 150,000 rows/s per core; incremental < 10% of full",
        },
    )


@contextlib.contextmanager
def _bench_source(args: argparse.Namespace) -> Iterator[dict[str, int]]:
    from bench.run import _prepare_source

    try:
        yield {"transactions": _prepare_source(args.rows, Path(".cardlake/bench").resolve())}
    finally:
        if not args.keep:
            stack.down()


def _update_primary(changed: int) -> None:
    stack.execute(
        "primary",
        "app",
        "UPDATE transactions SET txn_type = 'refund', updated_at = UTC_TIMESTAMP(6) "
        "WHERE transaction_id %% 100 = 7 LIMIT %s",
        (changed,),
    )


if __name__ == "__main__":
    os.environ.setdefault("CARDLAKE_SPARK_LOG_LEVEL", "ERROR")
    main()
