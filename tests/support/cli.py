"""The installed `cardlake` entry point, as users run it, for tests of what they type."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CARDLAKE = Path(sys.executable).parent / "cardlake"
ERROR_PREFIX = "cardlake: error: "


def run_cardlake(
    *args: str,
    env: dict[str, str] | None = None,
    code: int = 0,
    timeout: float = 600,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the entry point and check its exit code (0, or the code a refusal must give)."""
    proc = subprocess.run(
        [str(CARDLAKE), *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd
    )
    assert proc.returncode == code, f"{args}: {proc.stdout[-1500:]}{proc.stderr[-1500:]}"
    return proc


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one `cardlake: error:` line of a refused command, and no traceback. A refusal
    that comes after Spark started may follow Spark's own start-up lines."""
    errors = [line for line in proc.stderr.splitlines() if line.startswith(ERROR_PREFIX)]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return errors[0]
