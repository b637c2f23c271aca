"""Shared benchmark plumbing: timing, a throwaway seeded source stack, result files."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def timed(action: Callable[[], Any], repeat: int = 2) -> float:
    """Best wall time of `repeat` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


@contextlib.contextmanager
def seeded_stack(members: int, days: int = 120) -> Iterator[dict[str, int]]:
    """A private primary+replica under a temp CARDLAKE_HOME, seeded, stopped afterwards."""
    from devstack import seed, stack
    from devstack.localproc import free_port

    with tempfile.TemporaryDirectory(prefix="cardlake-bench-") as home:
        previous = os.environ.get("CARDLAKE_HOME")
        os.environ["CARDLAKE_HOME"] = home
        try:
            stack.up(stack.stack_dir(), primary_port=free_port(), replica_port=free_port())
            spec = seed.SeedSpec(members, days, 1, dt.date(2026, 6, 30))
            counts, _ = seed.seed(stack.endpoint("primary", "app"), spec)
            stack.wait_for_replica()
            yield counts
        finally:
            stack.down(stack.stack_dir())
            if previous is None:
                os.environ.pop("CARDLAKE_HOME", None)
            else:
                os.environ["CARDLAKE_HOME"] = previous


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def revision() -> str:
    """The commit measured, marked when the work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git work tree)"
    return f"{head} with uncommitted changes" if changed else head


def write_results(
    name: str,
    headers: list[str],
    rows: list[list[Any]],
    notes: dict[str, Any],
    directory: Path = RESULTS_DIR,
) -> None:
    """Print a Markdown table and keep it (and JSON) in a directory, bench/results/ by default."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    table = "\n".join(lines)
    print(table)
    for key, value in notes.items():
        print(f"{key}: {value}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    (directory / f"{name}.md").write_text(
        f"# {name} ({stamp}, {machine()}, commit {revision()})\n\n{table}\n\n"
        + "\n".join(f"- {k}: {v}" for k, v in notes.items())
        + "\n"
    )
    (directory / f"{name}.json").write_text(
        json.dumps(
            {
                "when": stamp,
                "machine": machine(),
                "commit": revision(),
                "headers": headers,
                "rows": rows,
                "notes": notes,
            },
            indent=2,
        )
    )
