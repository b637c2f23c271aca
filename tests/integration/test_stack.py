"""The local source stack: a real primary and a real replicating, read-only replica."""

from __future__ import annotations

import socket
from pathlib import Path

import pymysql
import pytest

from devstack import stack
from etl.errors import CardlakeError
from etl.extract.source import connect, guard_replica

pytestmark = pytest.mark.stack


def _connect(role: str, user: str) -> pymysql.connections.Connection:
    connection: pymysql.connections.Connection = stack.endpoint(role, user).connect()
    return connection


def test_rows_written_on_primary_reach_the_replica(source_stack: Path) -> None:
    with _connect("primary", "app") as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS replication_probe (id INT PRIMARY KEY, v TEXT)")
        cur.execute("REPLACE INTO replication_probe VALUES (1, '日本語 🎉')")
        conn.commit()
    stack.wait_for_replica(source_stack)
    with _connect("replica", "etl") as conn, conn.cursor() as cur:
        cur.execute("SELECT v FROM replication_probe WHERE id = 1")
        assert cur.fetchone() == ("日本語 🎉",)
    health = stack.replica_health(source_stack)
    assert (health.io_running, health.sql_running) == ("Yes", "Yes")


def test_replica_refuses_writes(source_stack: Path) -> None:
    with (
        _connect("replica", "app") as conn,
        conn.cursor() as cur,
        pytest.raises(pymysql.err.OperationalError) as err,
    ):
        cur.execute("CREATE TABLE written_on_replica (id INT)")
    assert err.value.args[0] == 1290  # ER_OPTION_PREVENTS_STATEMENT: --read-only


def test_etl_login_cannot_write_even_on_the_primary(source_stack: Path) -> None:
    with (
        _connect("primary", "etl") as conn,
        conn.cursor() as cur,
        pytest.raises(pymysql.err.OperationalError),
    ):
        cur.execute("CREATE TABLE written_by_etl (id INT)")


def test_guard_accepts_replica_and_refuses_primary(source_stack: Path) -> None:
    guard_replica(stack.endpoint("replica", "etl"))
    with pytest.raises(CardlakeError, match=r"writable .* not a read replica"):
        guard_replica(stack.endpoint("primary", "etl"))
    guard_replica(stack.endpoint("primary", "etl"), allow_primary=True)


def test_etl_sessions_are_read_only(source_stack: Path) -> None:
    with connect(stack.endpoint("replica", "etl")) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@session.tx_read_only, @@session.max_statement_time")
        read_only, timeout = cur.fetchone()
    assert int(read_only) == 1 and float(timeout) > 0


def test_second_up_is_refused_with_a_clear_message(source_stack: Path) -> None:
    with pytest.raises(CardlakeError, match="already running"):
        stack.up(source_stack)


def test_port_in_use_is_reported(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CardlakeError, match=rf"port {port} .* in use"):
            stack.up(tmp_path / "other", primary_port=port, replica_port=port + 1)
    assert not (tmp_path / "other").exists()


def test_status_shows_both_endpoints_and_lag(source_stack: Path) -> None:
    rows = dict(stack.status(source_stack))
    assert "running" in rows["primary"] and "running" in rows["replica"]
    assert rows["replication io/sql"] == "Yes/Yes"
    assert rows["replication lag (s)"] == "0"
