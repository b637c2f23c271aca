"""One run per table at a time: a lease object in the table's lake directory.

``<lake>/<table>/LEASE.json`` is created exclusively (O_CREAT|O_EXCL locally, a conditional
put on S3 and GCS: etl.lake.store) and holds the run id,
host, pid and start time of the run that holds it. While a run holds the lease, no other
run of the table is live, so what other runs left in ``runs/`` is safe to delete (see
etl.lake.snapshot.discard_leftovers). A lease is stale, and is taken over, when its holder is
gone: on this host, its pid no longer runs; on any host, it is older than LEASE_MAX_AGE
(another host cannot be asked, and a pid can be reused). A live lease stops the run before it reads or writes anything.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from etl.errors import CardlakeError
from etl.lake.store import Store, as_store

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


def lease_key(table: str) -> str:
    return f"{table}/{LEASE_FILE}"


def read_lease(lake: Store | str | Path, table: str) -> tuple[Lease, str] | None:
    """The table's lease and its version; None if there is none. An unparsable lease reads
    as an unknown holder started at the object's modification time."""
    store = as_store(lake)
    found = store.read(lease_key(table))
    if found is None:
        return None
    try:
        doc = json.loads(found.text)
        lease = Lease(str(doc["run_id"]), str(doc["host"]), int(doc["pid"]), str(doc["started_at"]))
    except (ValueError, KeyError, TypeError):
        modified = store.modified_at(lease_key(table)) or dt.datetime.now(dt.UTC).timestamp()
        started = dt.datetime.fromtimestamp(modified, dt.UTC)
        lease = Lease("(unreadable lease)", "", -1, started.isoformat())
    return lease, found.version


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


def acquire(lake: Store | str | Path, table: str, run_id: str) -> Lease:
    """Take the table's lease for run_id, taking over a stale one; a live one is an error.

    A stale lease is replaced only if it is still the lease found stale (a conditional
    write), so of several runs taking it over exactly one succeeds.
    """
    store = as_store(lake)
    key = lease_key(table)
    mine = Lease(run_id, socket.gethostname(), os.getpid(), dt.datetime.now(dt.UTC).isoformat())
    text = json.dumps(asdict(mine))
    for _ in range(5):
        if store.create(key, text):
            return mine
        found = read_lease(store, table)
        if found is None:
            continue
        holder, version = found
        if not is_stale(holder):
            raise CardlakeError(
                f"{table}: {holder.describe()} is still running it and holds "
                f"{store.uri_of(key)}; nothing was read or written. Run it again once that run "
                "has ended (a lease whose holder is gone is taken over: on this host at once, "
                f"from another host after {LEASE_MAX_AGE.total_seconds() / 3600:g} h)"
            )
        if store.replace_if(key, text, version):
            return mine
    raise CardlakeError(f"{table}: could not take {store.uri_of(key)}: other runs keep taking it")


def release(lake: Store | str | Path, table: str, lease: Lease) -> None:
    """Remove the lease if it is still ours (a run presumed dead may have lost it)."""
    store = as_store(lake)
    found = read_lease(store, table)
    if found is not None and found[0] == lease:
        store.delete(lease_key(table))


@contextlib.contextmanager
def table_lease(lake: Store | str | Path, table: str, run_id: str) -> Iterator[None]:
    """Hold the table's lease for the block; re-entered by the run that holds it."""
    store = as_store(lake)
    held_key = store.uri_of(lease_key(table))
    if _held.get(held_key) == run_id:
        yield
        return
    lease = acquire(store, table, run_id)
    _held[held_key] = run_id
    try:
        yield
    finally:
        del _held[held_key]
        release(store, table, lease)


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
