"""Local source stack: a MariaDB primary plus a GTID read replica as plain processes.

Both servers bind to loopback only, live in throwaway data dirs under the state
directory and never touch the machine's own MariaDB service (``--no-defaults`` first,
explicit sockets and ports). Passwords are generated at ``up`` and kept in a 0600 file.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.localproc import DEFAULT_PRIMARY_PORT, DEFAULT_REPLICA_PORT, port_free
from etl.errors import CardlakeError
from etl.extract.endpoint import Endpoint
from etl.fileio import write_atomically
from etl.lake.lease import process_alive
from etl.settings import LOCAL_ENV_FILES, SOURCE_DATABASE, state_dir

ROLES = ("primary", "replica")


@dataclass(frozen=True)
class ServerPaths:
    role: str
    base: Path

    @property
    def root(self) -> Path:
        return self.base / self.role

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socket(self) -> Path:
        return self.root / "mysqld.sock"

    @property
    def pid_file(self) -> Path:
        return self.root / "mysqld.pid"

    @property
    def tmpdir(self) -> Path:
        return self.root / "tmp"

    @property
    def log(self) -> Path:
        return self.root / "error.log"


def stack_dir() -> Path:
    return state_dir() / "stack"


def env_file(base: Path) -> Path:
    """The settings file that points the ETL at this stack's replica (see etl.settings)."""
    return base.parent / LOCAL_ENV_FILES[0]


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if not found:
        raise CardlakeError(
            f"{name} not found: install MariaDB with `make bootstrap` "
            "(apt-get install mariadb-server)"
        )
    return found


def admin_sql(paths: ServerPaths, sql: str) -> str:
    """Run SQL as root over the server's unix socket (socket authentication)."""
    proc = subprocess.run(
        [_binary("mariadb"), "--no-defaults", f"--socket={paths.socket}", "-uroot", "-e", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise CardlakeError(f"{paths.role}: {proc.stderr.strip().splitlines()[-1]}")
    return proc.stdout


def _pid(paths: ServerPaths) -> int | None:
    try:
        pid = int(paths.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if process_alive(pid) else None


def _alive(paths: ServerPaths) -> bool:
    if _pid(paths) is None:
        return False
    proc = subprocess.run(
        [_binary("mariadb-admin"), "--no-defaults", f"--socket={paths.socket}", "-uroot", "ping"],
        capture_output=True,
        timeout=10,
    )
    return proc.returncode == 0


def _install(paths: ServerPaths) -> subprocess.Popen[bytes]:
    # Each server gets its own tmpdir: two bootstraps sharing /tmp collide on temp tables.
    paths.tmpdir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            _binary("mariadb-install-db"),
            "--no-defaults",
            f"--user={_os_user()}",
            f"--datadir={paths.datadir}",
            f"--tmpdir={paths.tmpdir}",
            "--skip-test-db",
            "--auth-root-authentication-method=socket",
            f"--auth-root-socket-user={_os_user()}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _os_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _start(paths: ServerPaths, port: int, server_id: int, buffer_pool_mb: int) -> None:
    args = [
        _binary("mariadbd"),
        "--no-defaults",  # must be first, or /etc/mysql settings (port 3306) apply
        f"--user={_os_user()}",
        f"--datadir={paths.datadir}",
        f"--tmpdir={paths.tmpdir}",
        f"--socket={paths.socket}",
        f"--pid-file={paths.pid_file}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        "--skip-name-resolve",
        f"--server-id={server_id}",
        f"--log-error={paths.log}",
        f"--innodb-buffer-pool-size={buffer_pool_mb}M",
        "--innodb-log-file-size=48M",
        "--default-time-zone=+00:00",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_unicode_ci",
        "--max-connections=200",
    ]
    if paths.role == "primary":
        args += ["--log-bin=mysql-bin", "--binlog-format=ROW", "--local-infile=1"]
    else:
        args += ["--read-only=1", "--relay-log=relay-bin", "--skip-slave-start"]
    subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # survives the CLI process; stopped by `stack down`
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if paths.socket.exists() and _alive(paths):
            return
        time.sleep(0.1)
    tail = (
        paths.log.read_text(errors="replace").strip().splitlines()[-3:]
        if paths.log.exists()
        else []
    )
    raise CardlakeError(f"{paths.role} did not start on port {port}: {' | '.join(tail)}")


def _quote(value: str) -> str:
    # Generated passwords are URL-safe base64, so they never contain quotes.
    assert "'" not in value and "\\" not in value
    return f"'{value}'"


def up(
    base: Path | None = None,
    primary_port: int = DEFAULT_PRIMARY_PORT,
    replica_port: int = DEFAULT_REPLICA_PORT,
    buffer_pool_mb: int = 256,
) -> dict[str, Any]:
    """Start primary and replica, create logins and start GTID replication.

    buffer_pool_mb: InnoDB's buffer pool of each server; a benchmark whose table should be
    served from memory, as a production reader's is, passes one that holds it.
    """
    base = base or stack_dir()
    if (base / "stack.json").exists() and any(_alive(ServerPaths(r, base)) for r in ROLES):
        raise CardlakeError(
            f"the local stack is already running (state in {base}); "
            "use `cardlake stack status` or `cardlake stack down`"
        )
    for port in (primary_port, replica_port):
        if not port_free(port):
            raise CardlakeError(
                f"port {port} on 127.0.0.1 is in use; stop what uses it or pass "
                "--primary-port/--replica-port"
            )
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    primary, replica = ServerPaths("primary", base), ServerPaths("replica", base)
    installs = [_install(primary), _install(replica)]
    for proc in installs:
        _, err = proc.communicate(timeout=180)
        if proc.returncode != 0:
            raise CardlakeError(f"mariadb-install-db failed: {err.decode(errors='replace')[-300:]}")
    _start(primary, primary_port, 1, buffer_pool_mb)
    _start(replica, replica_port, 2, buffer_pool_mb)

    creds = {name: secrets.token_urlsafe(18) for name in ("app", "etl", "repl")}
    admin_sql(
        primary,
        f"""
        CREATE DATABASE {SOURCE_DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
        CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY {_quote(creds["repl"])};
        GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';
        CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY {_quote(creds["app"])};
        GRANT ALL PRIVILEGES ON {SOURCE_DATABASE}.* TO 'app'@'127.0.0.1';
        CREATE USER 'etl'@'127.0.0.1' IDENTIFIED BY {_quote(creds["etl"])};
        GRANT SELECT, SHOW VIEW ON {SOURCE_DATABASE}.* TO 'etl'@'127.0.0.1';
        GRANT SLAVE MONITOR, BINLOG MONITOR ON *.* TO 'etl'@'127.0.0.1';
        """,
    )
    admin_sql(
        replica,
        f"""
        CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary_port},
          MASTER_USER='repl', MASTER_PASSWORD={_quote(creds["repl"])},
          MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
        START SLAVE;
        """,
    )
    write_atomically(base / "secrets.json", json.dumps(creds), private=True)
    state: dict[str, Any] = {
        "primary": {"host": "127.0.0.1", "port": primary_port, "socket": str(primary.socket)},
        "replica": {"host": "127.0.0.1", "port": replica_port, "socket": str(replica.socket)},
        "database": SOURCE_DATABASE,
    }
    (base / "stack.json").write_text(json.dumps(state, indent=2))
    # The ETL finds the replica through settings, as it would find an Aurora reader.
    write_atomically(
        env_file(base),
        "".join(
            f"CARDLAKE_SOURCE_{name}={value}\n"
            for name, value in (
                ("HOST", "127.0.0.1"),
                ("PORT", replica_port),
                ("USER", "etl"),
                ("PASSWORD", creds["etl"]),
                ("DATABASE", SOURCE_DATABASE),
            )
        ),
        private=True,
    )
    wait_for_replica(base)
    return state


def _load_state(base: Path) -> tuple[dict[str, dict[str, object]], dict[str, str]]:
    try:
        state = json.loads((base / "stack.json").read_text())
        creds = json.loads((base / "secrets.json").read_text())
    except FileNotFoundError:
        raise CardlakeError(
            f"no local stack in {base}: run `cardlake stack up` first "
            "(or set CARDLAKE_SOURCE_HOST for a real replica)"
        ) from None
    return state, creds


def endpoint(role: str, user: str, base: Path | None = None) -> Endpoint:
    """Endpoint of the local stack's primary or replica for one of its logins."""
    state, creds = _load_state(base or stack_dir())
    server = state[role]
    return Endpoint(
        host=str(server["host"]),
        port=int(str(server["port"])),
        user=user,
        password=creds[user],
        database=str(state["database"]),
    )


def execute(role: str, user: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on the local stack as one of its logins; commit; return its rows."""
    with endpoint(role, user).connect() as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        rows = list(cur.fetchall())
        conn.commit()
    return rows


def execute_many(role: str, user: str, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run one statement per row of arguments on the local stack, in one transaction."""
    with endpoint(role, user).connect() as conn, conn.cursor() as cur:
        cur.executemany(sql, rows)
        conn.commit()


def wait_for_replica(base: Path | None = None, timeout_s: float = 60) -> None:
    """Block until the replica has applied everything the primary has binlogged."""
    base = base or stack_dir()
    primary, replica = ServerPaths("primary", base), ServerPaths("replica", base)
    position = admin_sql(primary, "SELECT @@gtid_binlog_pos").splitlines()[-1].strip()
    out = admin_sql(replica, f"SELECT MASTER_GTID_WAIT('{position}', {timeout_s})")
    if out.splitlines()[-1].strip() != "0":
        raise CardlakeError(
            f"the replica did not catch up with the primary within {timeout_s:.0f}s; "
            "check `cardlake stack status`"
        )


@dataclass(frozen=True)
class ReplicaHealth:
    io_running: str
    sql_running: str
    seconds_behind: str
    last_error: str


def replica_health(base: Path | None = None) -> ReplicaHealth:
    out = admin_sql(ServerPaths("replica", base or stack_dir()), "SHOW SLAVE STATUS\\G")
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.strip().partition(": ")
        if sep:
            fields[key] = value
    return ReplicaHealth(
        io_running=fields.get("Slave_IO_Running", "No"),
        sql_running=fields.get("Slave_SQL_Running", "No"),
        seconds_behind=fields.get("Seconds_Behind_Master", "NULL") or "NULL",
        last_error=fields.get("Last_Error", "") or fields.get("Last_IO_Error", ""),
    )


def status(base: Path | None = None) -> list[tuple[str, str]]:
    base = base or stack_dir()
    state, _ = _load_state(base)
    rows: list[tuple[str, str]] = []
    for role in ROLES:
        server = state[role]
        alive = _alive(ServerPaths(role, base))
        rows.append((role, f"127.0.0.1:{server['port']} {'running' if alive else 'STOPPED'}"))
    if _alive(ServerPaths("replica", base)):
        health = replica_health(base)
        rows.append(("replication io/sql", f"{health.io_running}/{health.sql_running}"))
        rows.append(("replication lag (s)", health.seconds_behind))
        if health.last_error:
            rows.append(("replication error", health.last_error))
    return rows


def down(base: Path | None = None) -> bool:
    """Stop both servers and delete their throwaway data. Returns False if nothing ran."""
    base = base or stack_dir()
    stopped = False
    for role in ROLES:
        paths = ServerPaths(role, base)
        pid = _pid(paths)
        if pid is None:
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _pid(paths) is not None:
            time.sleep(0.1)
        if _pid(paths) is not None:
            os.kill(pid, signal.SIGKILL)
        stopped = True
    if base.exists():
        shutil.rmtree(base, ignore_errors=True)
    env_file(base).unlink(missing_ok=True)
    return stopped


def is_up(base: Path | None = None) -> bool:
    base = base or stack_dir()
    return (base / "stack.json").exists() and all(_alive(ServerPaths(r, base)) for r in ROLES)
