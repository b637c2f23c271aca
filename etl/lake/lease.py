"""One run per table at a time: a lease file in the table's lake directory.

``<lake>/<table>/LEASE.json`` is created exclusively (O_CREAT|O_EXCL) and holds the run id,
host, pid and start time of the run that holds it. While a run holds the lease, no other
run of the table is live, so what other runs left in ``runs/`` is safe to delete (see
etl.lake.snapshot.discard_leftovers). A lease is stale, and is taken over, when its holder is
gone: on this host, its pid no longer runs; on any host, it is older than LEASE_MAX_AGE
(another host cannot be asked, and a pid can be reused). A live lease stops the run before it reads or writes anything.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from etl.errors import CardlakeError
from etl.fileio import create_exclusively

LEASE_FILE = "LEASE.json"
# A holder on another host is presumed dead after this long; no run of one table takes
# nearly as long (10M transactions take under two minutes on two cores).
LEASE_MAX_AGE = dt.timedelta(hours=6)
# A lease file that cannot be parsed was caught between its creation and its write (which
# takes microseconds): it is stale once it is this old.
UNREADABLE_GRACE = dt.timedelta(minutes=1)

# Leases this process holds, by lease path: a run already holding one (the pipeline holds
# it across extract and load) enters again without taking it twice.
_held: dict[str, str] = {}


@dataclass(frozen=True)
class Lease:
    run_id: str
    host: str
    pid: int
    started_at: str

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host}, since {self.started_at})"


def lease_path(lake: Path, table: str) -> Path:
    return lake / table / LEASE_FILE


def read_lease(path: Path) -> Lease | None:
    """The lease at path; None if there is none. An unparsable file reads as an unknown
    holder started at the file's modification time."""
    try:
        text = path.read_text()
        modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(text)
        return Lease(str(doc["run_id"]), str(doc["host"]), int(doc["pid"]), str(doc["started_at"]))
    except (ValueError, KeyError, TypeError):
        return Lease("(unreadable lease)", "", -1, modified.isoformat())


def is_stale(lease: Lease, now: dt.datetime | None = None) -> bool:
    now = now or dt.datetime.now(dt.UTC)
    try:
        age = now - dt.datetime.fromisoformat(lease.started_at)
    except (ValueError, TypeError):
        return True
    if lease.pid < 0:
        return age > UNREADABLE_GRACE
    if lease.host == socket.gethostname() and not process_alive(lease.pid):
        return True
    # Also on this host: a pid can be reused by an unrelated process.
    return age > LEASE_MAX_AGE


def _take_over(path: Path, stale: Lease) -> None:
    """Remove a stale lease, if it is still that lease. Takers serialize on a lock file, so
    none can remove a lease another one has just created in its place."""
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if read_lease(path) == stale:
            path.unlink(missing_ok=True)


def acquire(lake: Path, table: str, run_id: str) -> Lease:
    """Take the table's lease for run_id, taking over a stale one; a live one is an error."""
    path = lease_path(lake, table)
    mine = Lease(run_id, socket.gethostname(), os.getpid(), dt.datetime.now(dt.UTC).isoformat())
    for _ in range(5):
        if create_exclusively(path, json.dumps(asdict(mine))):
            return mine
        holder = read_lease(path)
        if holder is None:
            continue
        if not is_stale(holder):
            raise CardlakeError(
                f"{table}: {holder.describe()} is still running it and holds {path}; "
                "nothing was read or written. Run it again once that run has ended (a lease "
                f"whose holder is gone is taken over: on this host at once, from another host "
                f"after {LEASE_MAX_AGE.total_seconds() / 3600:g} h)"
            )
        _take_over(path, holder)
    raise CardlakeError(f"{table}: could not take {path}: other runs keep taking it")


def release(lake: Path, table: str, lease: Lease) -> None:
    """Remove the lease if it is still ours (a run presumed dead may have lost it)."""
    path = lease_path(lake, table)
    if read_lease(path) == lease:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def table_lease(lake: Path, table: str, run_id: str) -> Iterator[None]:
    """Hold the table's lease for the block; re-entered by the run that holds it."""
    key = os.path.abspath(lease_path(lake, table))
    if _held.get(key) == run_id:
        yield
        return
    lease = acquire(lake, table, run_id)
    _held[key] = run_id
    try:
        yield
    finally:
        del _held[key]
        release(lake, table, lease)


def process_alive(pid: int) -> bool:
    """True while pid runs; reaps it first if it is our own exited child (no zombies)."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
