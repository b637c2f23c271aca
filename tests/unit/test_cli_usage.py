"""The CLI: expected failures are one clear line and exit 1, never a traceback."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from cardlake.cli import main
from cardlake.cli.output import format_table, print_table
from devstack import stack
from devstack.localproc import free_port
from etl.errors import CardlakeError


def test_format_table_aligns_and_shows_nulls() -> None:
    assert format_table(["a", "bb"], [(1, None), ("xyz", 2)]).splitlines() == [
        "a       bb",
        "──────────",
        "1     NULL",
        "xyz      2",
    ]


def test_a_piped_table_keeps_long_paths_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # as in CI, whatever terminal runs the tests
    path = "/home/analyst/.cardlake/lake/transactions/runs/20261201T141541Z_e2ecb61f"
    piped = io.StringIO()
    print_table(["parquet dataset", "rows with a PAN"], [(path, 0)], file=piped)
    assert piped.getvalue().splitlines()[2].split() == [path, "0"]


def test_format_table_measures_japanese_text_as_a_terminal_draws_it() -> None:
    lines = format_table(["店舗", "n"], [("ローソン", 1200), ("A", 3)]).splitlines()
    # Full-width characters take two cells: the numbers line up under their header.
    from rich.cells import cell_len

    assert {cell_len(line) for line in lines[2:]} == {cell_len(lines[0])}
    assert lines[2].endswith("1,200") and lines[3].endswith("3")


def _one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2  # usage or environment, not a finding
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


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["seed", "--members", "-5"], "-5 is not a positive number"),
        (["seed", "--days", "ten"], "'ten' is not a whole number"),
        (["run", "--all", "--num-partitions", "0"], "0 is not a positive number"),
        (["query", "select 1", "--max-rows", "-1"], "not a positive number"),
        (["scan", "/nonexistent/lake"], "no such file or directory"),
        (["bookmarks", "frobnicate"], "No such command 'frobnicate'"),
        (["keys", "retire", "--version", "x"], "not a whole number"),
        (["keys", "rotate"], "Missing option '--name'. Choose from: pan, pii"),
        (["bookmarks", "rewind", "--table", "cards", "--to", "noon"], "'noon' is not a timestamp"),
        (["run", "--table", "nope"], "no manifest for table 'nope'"),
        (["bookmarks", "show", "--table", "nope"], "no manifest for table 'nope'"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cardlake: error: ") and says in err[0], err


def test_usage_errors_exit_2() -> None:
    assert main(["seed", "--members", "-5"]) == 2


def test_a_cloud_provider_without_its_sdk_names_the_extra(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes every import of boto3 fail, even where the dev extra
    # installed it and another test imported it already.
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.setenv("CARDLAKE_KEY_PROVIDER", "aws-secretsmanager:cardlake/keys")
    from masking.keys import key_provider

    with pytest.raises(CardlakeError, match=r"pip install 'cardlake\[aws\]'"):
        key_provider()


def test_bookmarks_show_rewind_and_reset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from etl.lake.bookmarks import Bookmark, BookmarkStore

    monkeypatch.setenv("CARDLAKE_BOOKMARKS", str(tmp_path / "bookmarks"))
    store = BookmarkStore()
    versions = {"pan": 2, "normalizers": 2}
    store.write(
        Bookmark("cards", "updated_at", "2026-06-30T12:00:00", "run1", "2026-06-30T12:01", versions)
    )
    assert main(["bookmarks", "show"]) == 0
    assert "2026-06-30T12:00:00" in capsys.readouterr().out
    assert (
        main(["bookmarks", "rewind", "--table", "cards", "--to", "2026-06-30T09:00:00+09:00"]) == 0
    )
    rewound = store.read("cards")
    assert rewound is not None and rewound.watermark == "2026-06-30T00:00:00"
    assert rewound.tokenization == versions, "a rewind keeps what the warehouse holds"
    assert main(["bookmarks", "rewind", "--table", "cards", "--to", "2027-01-01T00:00:00"]) == 2
    assert "before the current watermark" in capsys.readouterr().err
    assert main(["bookmarks", "reset", "--table", "cards"]) == 0
    assert store.read("cards") is None
    assert "next run is full" in capsys.readouterr().out


def test_the_cli_starts_without_the_data_libraries() -> None:
    # Each command imports what it uses, so `--help` and the quick commands do not wait
    # ~1.4 s for pyarrow, pandas and the BigQuery client to load.
    heavy = ["pyarrow", "pandas", "pyspark", "google.cloud.bigquery", "great_expectations"]
    probe = f"import sys; import cardlake.cli; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
