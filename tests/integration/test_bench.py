"""The peer benchmark end to end at a tiny size: every masked variant writes the tokens that
Python's hmac computes over the replica's values, for the key the bench generated.

The first test leaves out the peers of the "bench" extra (dlt, ConnectorX, DuckDB, ingestr);
the second runs the three newest, which `make bootstrap` installs into the main venv.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.run import VARIANTS
from tests.support.session import REPO

ROOT = REPO
ROWS = 2000
BENCH_EXTRA = ["ConnectorX + hmac", "DuckDB + SQL HMAC", "ingestr copy (unmasked)"]


def _bench(tmp_path: Path, skip: list[str]) -> tuple[list[str], dict[str, Any]]:
    """The rows each variant delivered, as printed, and the results file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDLAKE_")}
    bench = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--rows",
            str(ROWS),
            "--repeat",
            "1",
            *(arg for name in skip for arg in ("--skip", name)),
            "--home",
            str(tmp_path / "home"),
            "--results",
            str(tmp_path / "results"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert bench.returncode == 0, bench.stderr[-3000:]
    assert (tmp_path / "results" / f"peers-{ROWS}.md").is_file()
    report = json.loads((tmp_path / "results" / f"peers-{ROWS}.json").read_text())
    return re.findall(r"s, ([\d,]+) rows", bench.stdout), report


def _column(report: dict[str, Any], header: str) -> dict[str, Any]:
    index = report["headers"].index(header)
    return {row[0]: row[index] for row in report["rows"]}


@pytest.mark.stack
@pytest.mark.spark
def test_peer_benchmark_writes_its_table_with_every_peers_tokens_checked(tmp_path: Path) -> None:
    delivered, report = _bench(tmp_path, ["dlt + hmac", *BENCH_EXTRA])
    assert delivered == [f"{ROWS:,}"] * 7

    # 500 sampled rows of each masked variant carry Python hmac's token bytes.
    assert _column(report, "tokens checked") == {
        "cardlake job": 500,
        "cardlake masking": 500,
        "cardlake masking, shipped manifest": "-",
        "copy (unmasked)": "-",
        "pandas + hmac": 500,
        "Spark Python UDF": 500,
        "mariadb client scan": "-",
    }
    required = {"rows/s", "rows/s per core", "peak RSS MB", "output MiB", "time vs cardlake job"}
    assert required <= set(report["headers"])
    assert report["notes"]["OpenSSL HMAC-SHA256, 16-byte messages, one core"].endswith(" ops/s")


@pytest.mark.stack
def test_bench_extra_peers_write_python_hmac_tokens_and_time_their_start_up(
    tmp_path: Path,
) -> None:
    peers = [*BENCH_EXTRA, "mariadb client scan"]
    delivered, report = _bench(tmp_path, [v for v in VARIANTS if v not in peers])
    assert delivered == [f"{ROWS:,}"] * 4

    assert _column(report, "tokens checked") == {
        "ConnectorX + hmac": 500,
        "DuckDB + SQL HMAC": 500,
        "ingestr copy (unmasked)": "-",
        "mariadb client scan": "-",
    }
    # Start-up is never negative: the time with it is at least the work's.
    work, whole = _column(report, "seconds (median)"), _column(report, "seconds with start-up")
    assert all(float(whole[name]) >= float(work[name]) for name in peers)
    assert float(_column(report, "output MiB")["ConnectorX + hmac"]) > 0
