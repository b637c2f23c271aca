"""Table leases and run-directory cleanup, without Spark or servers."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from etl.errors import CardlakeError
from etl.lake.lease import LEASE_FILE, LEASE_MAX_AGE, acquire, read_lease, release, table_lease
from etl.lake.snapshot import (
    PUBLISHED_MARKER,
    Snapshot,
    discard_data,
    discard_leftovers,
    publish,
    read_pointer,
)
from etl.lake.store import Store


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _plant_lease(
    lake: Path, table: str, run_id: str, host: str, pid: int, age: dt.timedelta
) -> Path:
    path = lake / table / LEASE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC) - age
    path.write_text(
        json.dumps({"run_id": run_id, "host": host, "pid": pid, "started_at": started.isoformat()})
    )
    return path


def test_lease_is_exclusive_and_released(tmp_path: Path) -> None:
    with table_lease(tmp_path, "cards", "run_a"):
        found = read_lease(tmp_path, "cards")
        assert found is not None and (found[0].run_id, found[0].pid) == ("run_a", os.getpid())
        with table_lease(tmp_path, "cards", "run_a"):  # the same run enters again
            pass
        assert (tmp_path / "cards" / LEASE_FILE).exists()
        with pytest.raises(CardlakeError, match=r"run run_a \(pid \d+ on .*\) is still running"):
            acquire(tmp_path, "cards", "run_b")
    assert not (tmp_path / "cards" / LEASE_FILE).exists()


def test_stale_leases_are_taken_over_and_live_ones_are_not(tmp_path: Path) -> None:
    here = socket.gethostname()
    cases = [
        (here, _dead_pid(), dt.timedelta(0), True),  # this host, process gone
        (here, os.getpid(), dt.timedelta(hours=1), False),  # this host, process alive
        # this host, a live pid but older than any run: the pid may have been reused
        (here, os.getpid(), LEASE_MAX_AGE * 2, True),
        ("elsewhere", 1, dt.timedelta(hours=1), False),  # another host, young
        ("elsewhere", 1, LEASE_MAX_AGE + dt.timedelta(minutes=1), True),  # another host, old
    ]
    for host, pid, age, stale in cases:
        path = _plant_lease(tmp_path, "cards", "old_run", host, pid, age)
        if stale:
            lease = acquire(tmp_path, "cards", "new_run")
            assert read_lease(tmp_path, "cards") == (
                lease,
                Store(tmp_path).read(path.parent.name + "/" + LEASE_FILE).version,
            )
            release(tmp_path, "cards", lease)
            assert not path.exists()
        else:
            before = path.read_text()
            with pytest.raises(CardlakeError, match="old_run"):
                acquire(tmp_path, "cards", "new_run")
            assert path.read_text() == before
            path.unlink()


def test_a_lease_lost_to_a_takeover_is_not_released(tmp_path: Path) -> None:
    lease = acquire(tmp_path, "cards", "run_a")
    path = _plant_lease(
        tmp_path, "cards", "run_b", socket.gethostname(), os.getpid(), dt.timedelta(0)
    )
    release(tmp_path, "cards", lease)
    assert json.loads(path.read_text())["run_id"] == "run_b"


def test_an_unreadable_lease_is_stale_only_after_a_grace(tmp_path: Path) -> None:
    path = tmp_path / "cards" / LEASE_FILE
    path.parent.mkdir(parents=True)
    path.write_text("")
    with pytest.raises(CardlakeError, match="unreadable lease"):
        acquire(tmp_path, "cards", "run_a")
    old = (dt.datetime.now() - dt.timedelta(minutes=5)).timestamp()
    os.utime(path, (old, old))
    release(tmp_path, "cards", acquire(tmp_path, "cards", "run_a"))


def test_leftovers_lose_their_data_files_and_keep_their_reports(tmp_path: Path) -> None:
    runs = tmp_path / "cards" / "runs"
    for run in ("r1_base", "r2_published", "r3_failed", "r4_killed", "r5_mine"):
        (runs / run / "_temporary" / "0").mkdir(parents=True)
        (runs / run / "part-00000.zstd.parquet").write_bytes(b"PAR1")
        (runs / run / ".part-00000.zstd.parquet.crc").write_bytes(b"crc")
        (runs / run / "_temporary" / "0" / "part-00001.parquet").write_bytes(b"PAR1")
    (runs / "r3_failed" / "_quality.json").write_text("{}")
    (runs / "r3_failed" / "_k_anonymity.json").write_text("{}")
    publish(
        tmp_path,
        Snapshot(
            "cards",
            "r2_published",
            str(runs / "r2_published"),
            1,
            "incremental",
            ("r1_base", "r2_published"),
        ),
        read_pointer(tmp_path, "cards"),
    )
    # A run published before r2, which readers may still be on (_prune keeps it a while).
    (runs / "r0_superseded").mkdir()
    (runs / "r0_superseded" / "part-00000.zstd.parquet").write_bytes(b"PAR1")
    (runs / "r0_superseded" / PUBLISHED_MARKER).touch()
    assert discard_leftovers(tmp_path, "cards", "r5_mine") == ["r3_failed", "r4_killed"]
    assert sorted(p.name for p in runs.iterdir()) == [
        "r0_superseded",
        "r1_base",
        "r2_published",
        "r3_failed",
        "r5_mine",
    ]
    assert sorted(p.name for p in (runs / "r3_failed").iterdir()) == [
        "_k_anonymity.json",
        "_quality.json",
    ]
    for kept in ("r0_superseded", "r1_base", "r2_published", "r5_mine"):
        assert (runs / kept / "part-00000.zstd.parquet").exists()
    discard_data(tmp_path, "cards", "r5_mine")
    assert not (runs / "r5_mine").exists()
