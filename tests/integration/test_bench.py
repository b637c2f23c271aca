"""The peer benchmark end to end at a tiny size: every masked variant's tokens are cardlake's.

dlt is left out: it is the "bench" extra, which `make test` does not install.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.session import REPO

ROOT = REPO
ROWS = 2000


@pytest.mark.stack
@pytest.mark.spark
def test_peer_benchmark_writes_its_table_with_every_peers_tokens_checked(tmp_path: Path) -> None:
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
            "--skip",
            "dlt + hmac",
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
    assert re.findall(r"s, ([\d,]+) rows", bench.stdout) == [f"{ROWS:,}"] * 6

    report = json.loads((tmp_path / "results" / f"peers-{ROWS}.json").read_text())
    column = {name: i for i, name in enumerate(report["headers"])}
    tokens_checked = {row[0]: row[column["tokens checked"]] for row in report["rows"]}
    # 500 sampled rows of each masked variant carry the same token bytes as cardlake's job.
    assert tokens_checked == {
        "cardlake job": 500,
        "cardlake masking": 500,
        "cardlake masking, shipped manifest": "-",
        "copy (unmasked)": "-",
        "pandas + hmac": 500,
        "Spark Python UDF": 500,
    }
    required = {"rows/s", "rows/s per core", "peak RSS MB", "output MiB", "time vs cardlake job"}
    assert required <= column.keys()
    assert report["notes"]["OpenSSL HMAC-SHA256, 16-byte messages, one core"].endswith(" ops/s")
    assert (tmp_path / "results" / f"peers-{ROWS}.md").is_file()
