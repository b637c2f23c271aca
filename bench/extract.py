"""Extraction benchmark: full masked extract of ~1M transactions, then an incremental run.

    .venv/bin/python -m bench.extract [--members 75000]

Runs the real job (replica -> Spark JDBC -> masking -> data-quality gate -> zstd Parquet,
no warehouse load) on a private primary + replica, changes 1% of the rows, and runs again.
Prints rows/s, rows/s per core, the driver's peak RSS and the incremental/full time ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=75_000, help="~13 transactions each")
    args = parser.parse_args()
    spark = build_session("cardlake-bench-extract")
    cores = spark.sparkContext.defaultParallelism
    keys = DocumentKeyProvider(new_key_document(dev_only=True), "bench")
    with seeded_stack(args.members) as counts, tempfile.TemporaryDirectory() as tmp:
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
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    write_results(
        "extract",
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
            "goals": "full >= 150,000 rows/s per core; incremental < 10% of full",
        },
    )


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
