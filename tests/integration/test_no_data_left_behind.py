"""Refused, failed and killed runs leave no data files behind; a live run's lease is respected."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from cardlake.cli import main
from devstack import stack
from etl import pipeline
from etl.lake.lease import LEASE_FILE
from etl.lake.snapshot import current
from masking.keys import DocumentKeyProvider
from masking.reference import luhn_valid
from tests.support.cli_state import isolate_cli_state
from tests.support.runs import run_context

pytestmark = [pytest.mark.stack, pytest.mark.spark, pytest.mark.warehouse]


@pytest.fixture()
def lake(
    spark: SparkSession,
    seeded: dict[str, int],
    bq_emulator: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """The CLI's own lake, bookmarks, warehouse datasets and generated dev key file."""
    isolate_cli_state(monkeypatch, tmp_path, "leftovers_")
    return tmp_path / "lake"


def _generated_pan() -> str:
    """A Luhn-valid 16-digit number on a test BIN, generated here (never a literal)."""
    body = "4" + "".join(str(secrets.randbelow(10)) for _ in range(14))
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


@pytest.fixture()
def pan_in_merchant_name() -> Iterator[str]:
    """One transaction's kept merchant_name holds a PAN; the row is restored afterwards."""
    pan = _generated_pan()
    (txn_id, name, updated) = stack.execute(
        "primary",
        "app",
        "SELECT transaction_id, merchant_name, updated_at FROM transactions "
        "ORDER BY transaction_id LIMIT 1",
    )[0]
    update = "UPDATE transactions SET merchant_name = %s, updated_at = %s WHERE transaction_id = %s"
    stack.execute("primary", "app", update, (pan, updated, txn_id))
    stack.wait_for_replica()
    try:
        yield pan
    finally:
        stack.execute("primary", "app", update, (name, updated, txn_id))
        stack.wait_for_replica()


def _files_holding(root: Path, digits: str) -> list[str]:
    """Files under root holding the digits: every Parquet file's string and binary values
    (its pages are compressed), every other file's bytes."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for column in table.columns:
                if pa.types.is_string(column.type) or pa.types.is_binary(column.type):
                    values = column.cast(pa.string()) if pa.types.is_string(column.type) else column
                    if any(
                        v is not None
                        and digits in (v if isinstance(v, str) else v.decode("latin-1"))
                        for v in values.to_pylist()
                    ):
                        found.append(str(path))
                        break
        elif digits.encode() in path.read_bytes():
            found.append(str(path))
    return found


def _one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str], code: int) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cardlake: error: "), err
    return err[0]


def test_a_refused_run_leaves_no_pan_in_the_lake(
    lake: Path, pan_in_merchant_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _one_error_line(capsys, ["run", "--table", "transactions"], 1)  # a finding
    assert "transactions: data-quality gate failed" in line and pan_in_merchant_name not in line
    [run] = list((lake / "transactions" / "runs").iterdir())
    assert sorted(p.name for p in run.iterdir()) == ["_quality.json"], "the counts stay"
    assert not list(lake.rglob("*.parquet"))
    assert _files_holding(lake, pan_in_merchant_name) == []
    assert current(lake, "transactions") is None
    assert not (lake / "transactions" / LEASE_FILE).exists()


def test_a_run_failing_after_its_write_deletes_its_data_files(
    spark: SparkSession,
    seeded: dict[str, int],
    test_keys: DocumentKeyProvider,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_publish(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pipeline, "publish", no_publish)
    with pytest.raises(OSError, match="disk full"):
        pipeline.extract_and_publish(
            run_context(spark, tmp_path, test_keys, "failed_run"), "support_targets"
        )
    run = tmp_path / "support_targets" / "runs" / "failed_run"
    assert sorted(p.name for p in run.iterdir()) == ["_quality.json"]
    assert not (tmp_path / "support_targets" / LEASE_FILE).exists()


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _plant_lease(lake: Path, table: str, run_id: str, pid: int) -> Path:
    path = lake / table / LEASE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "run_id": run_id,
                "host": socket.gethostname(),
                "pid": pid,
                "started_at": dt.datetime.now(dt.UTC).isoformat(),
            }
        )
    )
    return path


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_a_killed_runs_files_go_with_the_next_run_and_a_live_lease_stops_it(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = "support_targets"
    runs = lake / table / "runs"
    # What a run killed mid-write leaves: data files (one run got as far as its report),
    # and its lease, whose pid no longer runs.
    for killed in ("20260101T000000_killed01", "20260101T000000_killed02"):
        (runs / killed).mkdir(parents=True)
        pq.write_table(pa.table({"name": ["left behind"]}), runs / killed / "part-00000.parquet")
    (runs / "20260101T000000_killed02" / "_quality.json").write_text("{}")
    lease = _plant_lease(lake, table, "20260101T000000_killed02", _dead_pid())

    assert main(["run", "--table", table]) == 0
    assert f"  {table}: full (no bookmark)" in capsys.readouterr().out
    published = current(lake, table)
    assert published is not None
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        ["20260101T000000_killed02", published.run_id]
    )
    assert [p.name for p in (runs / "20260101T000000_killed02").iterdir()] == ["_quality.json"]
    assert not lease.exists()

    # A lease held by a live process (this one): the next run stops and touches nothing.
    lease = _plant_lease(lake, table, "20260101T000000_livebeef", os.getpid())
    (runs / "20260101T000000_livebeef").mkdir()
    pq.write_table(
        pa.table({"name": ["in flight"]}), runs / "20260101T000000_livebeef" / "p.parquet"
    )
    bookmarks = Path(os.environ["CARDLAKE_BOOKMARKS"])
    before = (_tree(lake), _tree(bookmarks))
    line = _one_error_line(capsys, ["run", "--table", table], 2)  # the environment
    assert "run 20260101T000000_livebeef" in line and f"pid {os.getpid()}" in line
    assert "nothing was read or written" in line
    assert (_tree(lake), _tree(bookmarks)) == before
    lease.unlink()
