"""The CLI: expected failures are one clear line and exit 1, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cardlake.cli import main
from devstack import stack
from devstack.stack import Endpoint
from etl.errors import EXIT_ERROR, CardlakeError
from etl.extract.source import guard_replica
from etl.settings import SOURCE_DATABASE
from tests.support.cli import error_line, run_cardlake


def _one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2  # usage or environment, not a finding
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cardlake: error: "), err
    return err[0]


@pytest.mark.warehouse
def test_query_prints_a_table_from_the_emulator(
    bq_emulator: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", "select 'Tokyo' as city, 3 as n union all select 'Osaka', 4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["city", "n"]
    assert sorted(" ".join(line.split()) for line in lines[2:]) == ["Osaka 4", "Tokyo 3"]


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


def _run_sql(role: str, user: str, sql: str) -> None:
    stack.execute(role, user, sql)


@pytest.mark.stack
def test_broken_replication_is_refused_without_quoting_the_error(source_stack: Path) -> None:
    replica = stack.ServerPaths("replica", source_stack)
    _run_sql("primary", "app", "CREATE TABLE conflict_probe (id INT PRIMARY KEY, email TEXT)")
    stack.wait_for_replica(source_stack)
    # A row written behind replication's back makes the next replicated insert collide.
    stack.admin_sql(replica, "INSERT INTO cardissuer.conflict_probe VALUES (7, 'x')")
    _run_sql("primary", "app", "INSERT INTO conflict_probe VALUES (7, 'hanako@example.jp')")
    deadline = time.monotonic() + 30
    while stack.replica_health(source_stack).sql_running == "Yes":
        assert time.monotonic() < deadline
    try:
        with pytest.raises(CardlakeError, match=r"replication error .* SQL error 1062") as err:
            guard_replica(stack.endpoint("replica", "etl"))
        assert "hanako" not in str(err.value) and "'7'" not in str(err.value)
    finally:
        stack.admin_sql(replica, "DELETE FROM cardissuer.conflict_probe; START SLAVE SQL_THREAD")
        stack.wait_for_replica(source_stack)
        _run_sql("primary", "app", "DROP TABLE conflict_probe")
        stack.wait_for_replica(source_stack)
    guard_replica(stack.endpoint("replica", "etl"))


@pytest.mark.stack
@pytest.mark.parametrize("jar", ["missing.jar", "broken.jar"])
def test_a_missing_or_unreadable_masking_jar_stops_the_job_with_one_line(
    source_stack: Path, tmp_path: Path, jar: str
) -> None:
    import os

    (tmp_path / "broken.jar").write_text("not a jar")
    # A missing jar is refused before the source is asked; a broken one only once Spark
    # loads it, after the source check, so the run gets a source that passes.
    replica = stack.endpoint("replica", "etl")
    env = {
        **os.environ,
        "CARDLAKE_HOME": str(tmp_path),
        "CARDLAKE_SOURCE_HOST": replica.host,
        "CARDLAKE_SOURCE_PORT": str(replica.port),
        "CARDLAKE_SOURCE_USER": replica.user,
        "CARDLAKE_SOURCE_PASSWORD": replica.password,
        "CARDLAKE_MASKING_JAR": str(tmp_path / jar),
    }
    line = error_line(run_cardlake("run", "--table", "cards", env=env, code=EXIT_ERROR))
    assert "make jar" in line or "--jars" in line
    assert not (tmp_path / "lake").exists()


@pytest.mark.warehouse
def test_query_fetches_at_most_max_rows_in_table_csv_and_json(
    bq_emulator: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import io
    import json

    sql = (
        "select cast(9000000000000 as numeric) as id, 'a' as s union all "
        "select cast(2 as numeric), 'b' union all select cast(3 as numeric), 'c' order by s"
    )
    assert main(["query", sql, "--max-rows", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [" ".join(line.split()) for line in out[2:]] == [
        "9000000000000 a",
        "2 b",
        "... 1 more rows (raise --max-rows to see them)",
    ]
    assert main(["query", sql, "--format", "csv"]) == 0
    assert list(csv.reader(io.StringIO(capsys.readouterr().out))) == [
        ["id", "s"],
        ["9000000000000", "a"],
        ["2", "b"],
        ["3", "c"],
    ]
    assert main(["query", sql, "--format", "json", "--max-rows", "1"]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line) for line in captured.out.splitlines()] == [
        {"id": 9000000000000, "s": "a"}
    ]
    assert "2 more rows" in captured.err


@pytest.mark.warehouse
def test_query_sends_the_bytes_billed_guard(bq_emulator: str) -> None:
    from etl.load import warehouse

    page = warehouse.query_page(warehouse.client(), "select 1 as one", 10, 123_456_789)
    assert page.rows == [(1,)]
    assert page.job.maximum_bytes_billed == 123_456_789


@pytest.mark.stack
def test_a_reader_without_the_replica_monitor_privilege_passes_the_guard(
    source_stack: Path,
) -> None:
    import secrets

    password = secrets.token_hex(12)
    primary = stack.ServerPaths("primary", source_stack)
    stack.admin_sql(
        primary,
        f"CREATE USER 'reader'@'127.0.0.1' IDENTIFIED BY '{password}'; "
        f"GRANT SELECT ON {SOURCE_DATABASE}.* TO 'reader'@'127.0.0.1'",
    )
    stack.wait_for_replica(source_stack)
    try:
        etl = stack.endpoint("replica", "etl")
        reader = Endpoint(etl.host, etl.port, "reader", password, etl.database)
        guard_replica(reader)  # SHOW SLAVE STATUS is refused (1227); read_only=1 still holds
        with pytest.raises(CardlakeError, match="writable"):
            primary_endpoint = stack.endpoint("primary", "app")
            guard_replica(
                Endpoint(
                    primary_endpoint.host,
                    primary_endpoint.port,
                    "reader",
                    password,
                    etl.database,
                )
            )
    finally:
        stack.admin_sql(primary, "DROP USER 'reader'@'127.0.0.1'")
        stack.wait_for_replica(source_stack)


@pytest.mark.stack
@pytest.mark.spark
@pytest.mark.warehouse
def test_a_table_missing_from_the_source_is_one_line(
    spark: object,
    seeded: dict[str, int],
    bq_emulator: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "ghost.yaml").write_text("table: ghost\nprimary_key: [id]\ncolumns:\n  id: key\n")
    monkeypatch.setenv("CARDLAKE_MANIFEST_DIR", str(tmp_path))
    monkeypatch.setenv("CARDLAKE_LAKE", str(tmp_path / "lake"))
    assert main(["run", "--table", "ghost"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"cardlake: error: table {SOURCE_DATABASE}.ghost not found on "
        f"{stack.endpoint('replica', 'etl').display}"
    ]


def test_scan_of_a_file_that_is_not_parquet_is_one_error_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["scan", "README.md"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read README.md as Parquet" in err[0], err
