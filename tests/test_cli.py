"""The CLI: expected failures are one clear line and exit 1, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from etl import stack
from etl.cli import format_table, main
from etl.errors import CardlakeError
from etl.localproc import free_port
from etl.source import guard_replica


def test_format_table_aligns_and_shows_nulls() -> None:
    assert format_table(["a", "bb"], [(1, None), ("xyz", 2)]).splitlines() == [
        "a   | bb  ",
        "----+-----",
        "1   | NULL",
        "xyz | 2   ",
    ]


def _one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cardlake: error: "), err
    return err[0]


def test_run_without_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--table" in _one_error_line(capsys, ["run"])


def test_query_without_warehouse(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARDLAKE_HOME", str(tmp_path))
    monkeypatch.delenv("CARDLAKE_BQ_PROJECT", raising=False)
    assert "warehouse up" in _one_error_line(capsys, ["query", "select 1"])


def test_query_with_unreachable_endpoint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CARDLAKE_BQ_PROJECT", raising=False)
    monkeypatch.setenv("CARDLAKE_BQ_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    assert "not reachable" in _one_error_line(capsys, ["query", "select 1"])


@pytest.mark.warehouse
def test_query_prints_a_table_from_the_emulator(
    bq_emulator: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", "select 'Tokyo' as city, 3 as n union all select 'Osaka', 4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["city", "|", "n"]
    assert sorted(" ".join(line.split()) for line in lines[2:]) == ["Osaka | 4", "Tokyo | 3"]


@pytest.mark.warehouse
def test_bad_sql_is_one_line_naming_bigquery(
    bq_emulator: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "BigQuery" in _one_error_line(capsys, ["query", "select * from nowhere_at_all"])


@pytest.mark.warehouse
def test_dry_run_on_the_emulator_is_skipped_with_a_reason(
    bq_emulator: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["warehouse", "dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("skipped") and "CARDLAKE_BQ_PROJECT" in out


def test_stack_status_without_stack(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARDLAKE_HOME", str(tmp_path))
    assert "cardlake stack up" in _one_error_line(capsys, ["stack", "status"])


def test_missing_jdbc_jar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from etl.spark import jdbc_jar

    monkeypatch.setenv("CARDLAKE_JDBC_JAR", str(tmp_path / "missing.jar"))
    with pytest.raises(CardlakeError, match=r"JDBC driver not found .*`make bootstrap`"):
        jdbc_jar()


def _run_sql(role: str, user: str, sql: str) -> None:
    stack.execute(role, user, sql)


@pytest.mark.stack
def test_broken_replication_is_refused_without_quoting_the_error(source_stack: Path) -> None:
    replica = stack.ServerPaths("replica", source_stack)
    _run_sql("primary", "app", "CREATE TABLE conflict_probe (id INT PRIMARY KEY, email TEXT)")
    stack.wait_for_replica(source_stack)
    # A row written behind replication's back makes the next replicated insert collide.
    stack._admin_sql(replica, "INSERT INTO cardissuer.conflict_probe VALUES (7, 'x')")
    _run_sql("primary", "app", "INSERT INTO conflict_probe VALUES (7, 'hanako@example.jp')")
    deadline = time.monotonic() + 30
    while stack.replica_health(source_stack).sql_running == "Yes":
        assert time.monotonic() < deadline
    try:
        with pytest.raises(CardlakeError, match=r"replication error .* SQL error 1062") as err:
            guard_replica(stack.endpoint("replica", "etl"))
        assert "hanako" not in str(err.value) and "'7'" not in str(err.value)
    finally:
        stack._admin_sql(replica, "DELETE FROM cardissuer.conflict_probe; START SLAVE SQL_THREAD")
        stack.wait_for_replica(source_stack)
        _run_sql("primary", "app", "DROP TABLE conflict_probe")
        stack.wait_for_replica(source_stack)
    guard_replica(stack.endpoint("replica", "etl"))


@pytest.mark.parametrize("jar", ["missing.jar", "broken.jar"])
def test_a_missing_or_unreadable_masking_jar_stops_the_job_with_one_line(
    tmp_path: Path, jar: str
) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / "broken.jar").write_text("not a jar")
    env = {
        **os.environ,
        "CARDLAKE_HOME": str(tmp_path),
        "CARDLAKE_MASKING_JAR": str(tmp_path / jar),
    }
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "cardlake"), "run", "--table", "cards"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in proc.stderr.splitlines() if line.startswith("cardlake: error:")]
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr[-2000:]
    assert "make jar" in errors[0] or "--jars" in errors[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "lake").exists()
