"""The embedded default warehouse: bqemulator (BigQuery REST API on DuckDB) on loopback.

It runs from its own virtualenv (.venv-bqemu, created by `make bootstrap`) because its
duckdb/sqlglot pins clash with ours. Offline fixes from the stack notes: DuckDB's spatial
extension comes from the duckdb-extension-spatial wheel, installed into a private HOME,
and format extensions (an online download at boot) are off. Data is file-backed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from devstack.localproc import DEFAULT_EMULATOR_PORT, free_port
from etl.errors import CardlakeError
from etl.fileio import write_atomically
from etl.lake.lease import process_alive
from etl.load.warehouse import endpoint_answers
from etl.settings import LOCAL_BQ_PROJECT, LOCAL_ENV_FILES, settings, state_dir


def emulator_dir() -> Path:
    return state_dir() / "warehouse"


def upload_staging_dir(base: Path | None = None) -> Path:
    """Where the emulator materialises a load's body until the load has consumed it."""
    return (base or emulator_dir()) / "uploads"


def _venv() -> Path:
    return settings().bqemu_venv


def _state_file(base: Path) -> Path:
    return base / "emulator.json"


def _read_state(base: Path) -> dict[str, int] | None:
    try:
        state: dict[str, int] = json.loads(_state_file(base).read_text())
    except FileNotFoundError:
        return None
    return state


def _ready(port: int) -> bool:
    return endpoint_answers(f"http://127.0.0.1:{port}")


def _install_spatial(home: Path) -> None:
    marker = home / ".duckdb" / "spatial-installed"
    if marker.exists():
        return
    python = _venv() / "bin" / "python"
    script = (
        "import duckdb, duckdb_extension_spatial, pathlib;"
        "p = next(pathlib.Path(duckdb_extension_spatial.__file__).parent.rglob('spatial.duckdb_extension'));"
        "duckdb.install_extension(str(p))"
    )
    home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [str(python), "-c", script],
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise CardlakeError(
            f"installing DuckDB's spatial extension failed: {proc.stderr.strip()[-300:]}"
        )
    marker.touch()


def endpoint_url(base: Path | None = None) -> str:
    """URL of the running local emulator."""
    state = _read_state(base or emulator_dir())
    if state is None or not process_alive(state["pid"]):
        raise CardlakeError(
            "the local BigQuery emulator is not running: start it with `cardlake warehouse up` "
            "(or set CARDLAKE_BQ_PROJECT to use real BigQuery)"
        )
    return f"http://127.0.0.1:{state['port']}"


def _point_settings_at(base: Path, port: int) -> None:
    write_atomically(env_file(base), f"CARDLAKE_BQ_ENDPOINT=http://127.0.0.1:{port}\n")


def env_file(base: Path) -> Path:
    """The settings file that points the warehouse client at this emulator (etl.settings)."""
    return base.parent / LOCAL_ENV_FILES[1]


def is_up(base: Path | None = None) -> bool:
    state = _read_state(base or emulator_dir())
    return state is not None and process_alive(state["pid"]) and _ready(state["port"])


def up(base: Path | None = None, port: int = DEFAULT_EMULATOR_PORT) -> int:
    """Start the emulator (idempotent); returns its REST port."""
    base = base or emulator_dir()
    state = _read_state(base)
    if state is not None and process_alive(state["pid"]) and _ready(state["port"]):
        _point_settings_at(base, state["port"])
        return state["port"]
    binary = _venv() / "bin" / "bqemulator"
    if not binary.exists():
        raise CardlakeError(f"bqemulator not installed at {binary}: run `make bootstrap`")
    home, data = base / "home", base / "data"
    data.mkdir(parents=True, exist_ok=True)
    _install_spatial(home)
    grpc_port = free_port()
    log = open(base / "emulator.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(
        [
            str(binary),
            "start",
            "--rest-host",
            "127.0.0.1",
            "--rest-port",
            str(port),
            "--grpc-host",
            "127.0.0.1",
            "--grpc-port",
            str(grpc_port),
            "--persistent",
            "--data-dir",
            str(data),
            "--project",
            LOCAL_BQ_PROJECT,
            "--log-level",
            "error",
            "--log-format",
            "console",
        ],
        env={
            **os.environ,
            "HOME": str(home),
            "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false",
            # Load bodies are staged in the emulator's own directory, not the system's.
            "BQEMU_UPLOAD_STAGING_DIR": str(upload_staging_dir(base)),
        },
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (base / "emulator.log").read_text(errors="replace").strip().splitlines()[-3:]
            raise CardlakeError(
                f"bqemulator exited at start (port {port} in use?): {' | '.join(tail)}"
            )
        if _ready(port):
            _state_file(base).write_text(json.dumps({"pid": proc.pid, "port": port}))
            _point_settings_at(base, port)
            return port
        time.sleep(0.2)
    proc.kill()
    raise CardlakeError(f"bqemulator did not answer on 127.0.0.1:{port} within 60s")


def down(base: Path | None = None) -> bool:
    base = base or emulator_dir()
    state = _read_state(base)
    if state is None or not process_alive(state["pid"]):
        return False
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process_alive(state["pid"]):
        time.sleep(0.1)
    if process_alive(state["pid"]):
        os.kill(state["pid"], signal.SIGKILL)
    _state_file(base).unlink(missing_ok=True)
    env_file(base).unlink(missing_ok=True)
    return True
