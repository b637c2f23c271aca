"""The README is a contract: every command in its CLI table and every shell block in it runs
through the installed `cardlake`, on servers of the test's own (own CARDLAKE_HOME and
ports, so `stack down` cannot stop the suite's), and does what the README says.

A README command row or shell block that no step here exercises fails the test.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from devstack import stack
from devstack.localproc import free_port
from etl.errors import EXIT_ERROR
from tests.support.cli import CARDLAKE, error_line, run_cardlake
from tests.support.session import REPO

pytestmark = [pytest.mark.stack, pytest.mark.spark, pytest.mark.warehouse]
README = (REPO / "README.md").read_text()
# Shell blocks the contract leaves out: the suite itself and the benchmarks.
LEFT_OUT = {"make test", "make bench"}


def readme_commands() -> set[str]:
    """The CLI table's rows as keys: command words and required flags (`run --all`)."""
    keys = set()
    for cell in re.findall(r"^\| `cardlake ([^`]+)`", README, flags=re.M):
        without_optional = re.sub(r"\[[^\]]*\]", " ", cell)
        words = [
            w
            for w in without_optional.replace("\\|", "|").split()
            if re.fullmatch(r"[a-z][a-z-]*|--[a-z-]+", w)
        ]
        keys.add(" ".join(words))
    return keys


def readme_blocks() -> list[tuple[str, list[str]]]:
    """(tag, lines) of each ```bash block; the tag is its `<!-- contract: name -->` line."""
    blocks = []
    pattern = r"(?:<!-- contract: ([a-z-]+) -->\n)?```bash\n(.*?)```"
    for tag, body in re.findall(pattern, README, flags=re.S):
        lines = [line for line in body.replace("\\\n", " ").splitlines() if line.strip()]
        blocks.append((tag, lines))
    return blocks


def test_the_readme_lists_every_cli_command() -> None:
    import typer

    from cardlake.cli import app

    command = typer.main.get_command(app)
    shipped = set()
    for name, sub in command.commands.items():  # type: ignore[attr-defined]
        children = getattr(sub, "commands", None)
        shipped |= {f"{name} {child}" for child in children} if children else {name}
    documented = {
        " ".join(w for w in key.split() if not w.startswith("-")) for key in readme_commands()
    }
    assert shipped == documented


def test_every_shell_block_is_tagged_or_left_out() -> None:
    blocks = readme_blocks()
    assert blocks
    for tag, lines in blocks:
        untagged = [line for line in lines if line.split("#")[0].strip() not in LEFT_OUT]
        if not tag:
            assert not [line for line in untagged if not line.startswith("make bench")], lines


class Cli:
    """The installed entry point with the test's own state; records what it ran."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CARDLAKE_")}
        self.env.update({"CARDLAKE_HOME": str(home), "PYTHONPATH": str(REPO)})
        self.ran: set[str] = set()
        self.stderr = ""

    def __call__(self, *args: str, code: int = 0, **env: str) -> str:
        proc = run_cardlake(*args, env={**self.env, **env}, code=code, timeout=900, cwd=REPO)
        self.stderr = proc.stderr
        if code == EXIT_ERROR:
            return error_line(proc)
        leading = []
        for arg in args:
            if not re.fullmatch(r"[a-z][a-z-]*", arg):
                break
            leading.append(arg)
        self.ran.add(" ".join(leading + [a for a in args if a in FLAGS]))
        return proc.stdout

    def bash(self, line: str, **env: str) -> str:
        proc = subprocess.run(
            ["bash", "-c", line],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=900,
            cwd=REPO,
        )
        assert proc.returncode == 0, f"{line}: {proc.stdout[-1500:]}{proc.stderr[-1500:]}"
        return proc.stdout


FLAGS = {"--table", "--all", "--to", "--name", "--version"}


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    runner = Cli(tmp_path_factory.mktemp("contract-home"))
    yield runner
    for group in ("stack", "warehouse"):  # whatever a failed step left running
        subprocess.run([str(CARDLAKE), group, "down"], env=runner.env, capture_output=True)


def _replica(home: Path) -> pymysql.connections.Connection:
    values = dict(
        line.split("=", 1) for line in (home / "stack.env").read_text().splitlines() if line
    )
    return pymysql.connect(
        host=values["CARDLAKE_SOURCE_HOST"],
        port=int(values["CARDLAKE_SOURCE_PORT"]),
        user=values["CARDLAKE_SOURCE_USER"],
        password=values["CARDLAKE_SOURCE_PASSWORD"],
        database=values["CARDLAKE_SOURCE_DATABASE"],
    )


def _source_count(home: Path, table: str) -> int:
    with _replica(home) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        return int(cur.fetchone()[0])


def _warehouse_count(cli: Cli, table: str) -> int:
    out = cli(
        "query",
        f"select count(*) as n from `cardlake-local.raw.{table}` "
        "where business_date >= '0001-01-01' or business_date is null",
        "--format",
        "json",
    )
    return int(json.loads(out.splitlines()[0])["n"])


def test_every_readme_command_and_block_does_what_it_says(cli: Cli) -> None:
    home = cli.home
    primary, replica, emulator = free_port(), free_port(), free_port()

    out = cli("stack", "up", "--primary-port", str(primary), "--replica-port", str(replica))
    assert f"127.0.0.1:{replica}" in out
    assert oct((home / "stack.env").stat().st_mode & 0o777) == "0o600"
    assert "already running" in cli("stack", "up", code=2)
    status = cli("stack", "status")
    assert f"127.0.0.1:{replica} running" in status and "Yes/Yes" in status
    assert f"127.0.0.1:{emulator}" in cli("warehouse", "up", "--port", str(emulator))
    config = cli("config", "show")
    password = (home / "stack.env").read_text().split("CARDLAKE_SOURCE_PASSWORD=")[1].split()[0]
    assert password not in config and "**********" in config
    assert re.search(rf"CARDLAKE_SOURCE_PORT\s+{replica}\s+stack.env", config)
    # The Glue bundle's round trip through a Glue API is tests/integration/test_glue_package.py.
    assert "bundle in" in cli("glue", "package", "--out", str(home / "glue-bundle"))

    seeded = cli("seed", "--members", "120", "--days", "40", "--end-date", "2026-06-30")
    assert "replica caught up" in seeded

    out = cli("run", "--table", "transactions")
    assert "transactions: full (no bookmark)" in out
    assert _warehouse_count(cli, "transactions") == _source_count(home, "transactions")
    shown = cli("bookmarks", "show")
    assert re.search(r"transactions\s+2026-", shown)

    out = cli("run", "--all")
    assert "transactions: incremental" in out
    for table in ("members", "cards", "repayments"):
        assert _warehouse_count(cli, table) == _source_count(home, table)

    assert "pan is now v2" in cli("keys", "rotate", "--name", "pan")
    assert "still in use" in cli("keys", "retire", "--name", "pan", "--version", "1", code=2)
    out = cli("run", "--all", "--full-refresh")
    assert out.count("full refresh requested") == 8
    assert "v1 retired" in cli("keys", "retire", "--name", "pan", "--version", "1")
    assert re.search(r"pan\s+2\s+2", cli("keys", "show"))

    watermark = re.search(r"transactions\s+(\S+)", cli("bookmarks", "show")).group(1)  # type: ignore[union-attr]
    rewound = cli("bookmarks", "rewind", "--table", "transactions", "--to", "2026-06-01T00:00:00")
    assert "2026-06-01T00:00:00" in rewound and watermark not in rewound
    assert "next run is full" in cli("bookmarks", "reset", "--table", "transactions")

    deployed = cli("warehouse", "deploy")
    assert deployed.count("deployed ") == len(list((REPO / "warehouse_sql").glob("*/*.sql")))
    assert cli("warehouse", "dry-run").startswith("skipped")
    # Every fixture runs in tests/integration/test_warehouse_sql.py; here two, for the CLI.
    tested = cli("warehouse", "test", "--view", "kpi_gmv_daily", "--view", "int_data_as_of")
    assert re.findall(r"^\s+ok\s+(\w+):", tested, flags=re.M) == ["int_data_as_of", "kpi_gmv_daily"]
    rows = cli("query", "select * from `cardlake-local.mart.kpi_gmv_daily`", "--max-rows", "3")
    assert "more rows" in rows

    pages = home / "pages"
    assert "built" in cli("dashboards", "build", "--out", str(pages))
    assert (pages / "index.html").exists()
    port = free_port()
    server = subprocess.Popen(
        [str(CARDLAKE), "dashboards", "serve", "--out", str(pages), "--port", str(port)],
        env=cli.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html") as page:
                    assert b"<html" in page.read().lower()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)
    cli.ran.add("dashboards serve")
    assert "lookerstudio.google.com" in cli("dashboards", "links")
    assert "no Luhn-valid PAN" in cli("scan")

    # A login without privileges, and an unreachable replica: one line each, and nothing
    # else, as the source is checked before Spark starts (whose start-up prints its own).
    unreachable = {"CARDLAKE_SOURCE_PORT": str(free_port())}
    assert "cannot connect to source" in cli("run", "--table", "cards", code=2, **unreachable)
    assert len(cli.stderr.splitlines()) == 1, cli.stderr
    denied = {"CARDLAKE_SOURCE_USER": "nobody", "CARDLAKE_SOURCE_PASSWORD": secrets.token_hex(8)}
    assert "Access denied" in cli("run", "--table", "cards", code=2, **denied)
    assert len(cli.stderr.splitlines()) == 1, cli.stderr
    password = secrets.token_hex(12)
    stack.admin_sql(
        stack.ServerPaths("primary", home / "stack"),
        f"CREATE USER 'nogrants'@'127.0.0.1' IDENTIFIED BY '{password}'",
    )
    time.sleep(2)  # the login replicates to the replica
    no_grants = {"CARDLAKE_SOURCE_USER": "nogrants", "CARDLAKE_SOURCE_PASSWORD": password}
    assert "Access denied for user 'nogrants'" in cli(
        "run", "--table", "cards", code=2, **no_grants
    )
    assert len(cli.stderr.splitlines()) == 1, cli.stderr

    # The README's shell blocks, verbatim (the demo on a smaller population).
    for tag, lines in readme_blocks():
        for line in lines:
            command = line.split("  #")[0].strip()
            if command in LEFT_OUT or command.startswith("make bench"):
                continue
            out = cli.bash(command, CARDLAKE_DEMO_MEMBERS="150", CARDLAKE_DEMO_DAYS="30")
            if command == "make demo":
                cli.ran.add("demo")
                assert "Dashboards" in out and "no Luhn-valid PAN" in out
            elif "spark-submit" in command:
                assert re.search(r"transactions: \w+ run.*rows written", out), out
            else:
                assert out.strip(), command
        assert tag or lines[0].startswith("make")

    assert "stopped" in cli("warehouse", "down")
    assert "stopped" in cli("stack", "down")
    assert "cardlake stack up" in cli("stack", "status", code=2)
    cli.ran.add("stack status")
    missing = readme_commands() - cli.ran
    assert missing == set(), "README commands no step exercised"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "--table", "nope"], "no manifest for table 'nope'"),
        (["bookmarks", "show", "--table", "nope"], "no manifest for table 'nope'"),
        (["bookmarks", "reset", "--table", "nope"], "no manifest for table 'nope'"),
        (["bookmarks", "rewind", "--table", "cards", "--to", "yesterday"], "not a timestamp"),
        (["seed", "--members", "-5"], "-5 is not a positive number"),
        (["seed", "--end-date", "2026-13-01"], "is not a date"),
        (["run", "--all", "--num-partitions", "zero"], "not a whole number"),
        (["stack", "up", "--primary-port", "70000"], "not a TCP port"),
        (["warehouse", "up", "--port", "-1"], "not a TCP port"),
        (["query", "select 1", "--max-rows", "0"], "not a positive number"),
        (["query", "select 1", "--format", "xml"], "'xml' is not one of"),
        (["dashboards", "serve", "--out", "/nonexistent/pages"], "nothing built"),
        (["dashboards", "serve", "--port", "http"], "not a whole number"),
        (["dashboards", "build", "--lang", "fr"], "'fr' is not one of ja, en"),
        (["scan", "/nonexistent/lake"], "no such file or directory"),
        (["keys", "retire", "--name", "pan", "--version", "0"], "not a positive number"),
        (["keys", "rotate", "--name", "cvv"], "'cvv' is not one of"),
        (["demo", "--days", "0"], "not a positive number"),
        (["stack", "status"], "cardlake stack up"),
        (["run", "--table", "cards"], "no source configured"),
        (["warehouse", "deploy"], "no warehouse configured"),
        (["warehouse", "test"], "no warehouse configured"),
        (["warehouse", "test", "--view", "kpi_nope"], "no fixture for kpi_nope"),
        (["dashboards", "build"], "no warehouse configured"),
        (["query", "select 1"], "no warehouse configured"),
    ],
)
def test_bad_input_is_one_error_line(tmp_path: Path, argv: list[str], says: str) -> None:
    cli = Cli(tmp_path)
    assert says in cli(*argv, code=2)


def test_an_unreachable_warehouse_is_one_error_line(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    unreachable = {"CARDLAKE_BQ_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    for argv in (["warehouse", "deploy"], ["query", "select 1"], ["dashboards", "build"]):
        assert "not reachable" in cli(*argv, code=2, **unreachable)
