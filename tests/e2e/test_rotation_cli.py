"""Key rotation through the CLI: the next run re-tokenizes, and retire refuses versions in use."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from cardlake.cli import main
from devstack.source_schema import TABLE_ORDER
from etl.contracts.manifest import manifest_for
from etl.errors import EXIT_ERROR
from etl.key_usage import snapshot_holders, warehouse_holders
from etl.load import warehouse
from etl.settings import PROJECT_ROOT, warehouse_settings
from masking.policy import key_version_column
from tests.support.cli import error_line, run_cardlake
from tests.support.cli_state import isolate_cli_state

pytestmark = [pytest.mark.stack, pytest.mark.spark, pytest.mark.warehouse]


@pytest.fixture()
def cli_env(
    spark: SparkSession,
    seeded: dict[str, int],
    bq_emulator: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """The CLI's own lake, bookmarks, warehouse datasets and generated dev key file."""
    return isolate_cli_state(monkeypatch, tmp_path, "rotation_")


def _versions_per_token_column() -> dict[str, set[int]]:
    """Every raw table's `<col>_token_key_version` values, by table.column."""
    settings = warehouse_settings()
    bq = warehouse.client(settings)
    found = {}
    for table in TABLE_ORDER:
        manifest = manifest_for(table)
        for policy in manifest.columns.values():
            if policy.action != "token":
                continue
            column = key_version_column(policy.name)
            _, rows = warehouse.query_rows(
                bq,
                f"select distinct `{column}` from "
                f"`{settings.project}.{settings.raw_dataset}.{table}`",
            )
            found[f"{table}.{column}"] = {int(r[0]) for r in rows}
    return found


def _table_lines(out: str) -> dict[str, str]:
    lines = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    return {line.split(":")[0]: line for line in lines if ":" in line}


def test_rotate_then_run_all_leaves_one_version_and_retire_waits_for_it(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = cli_env
    assert main(["run", "--all"]) == 0
    capsys.readouterr()
    assert _versions_per_token_column() == {
        "cards.pan_token_key_version": {1},
        "members.full_name_token_key_version": {1},
        "members.email_token_key_version": {1},
        "members.phone_token_key_version": {1},
    }

    # The installed entry point, running this checkout's code.
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    run_cardlake("keys", "rotate", "--name", "pan", env=env)
    assert json.loads(key_file.read_text())["keys"]["pan"]["current"] == 2

    # v1 is what the cards snapshot recorded and what raw.cards holds: refused.
    retire = ("keys", "retire", "--name", "pan", "--version", "1")
    refused = run_cardlake(*retire, env=env, code=EXIT_ERROR)
    assert refused.stderr.strip() == (line := error_line(refused))
    assert line.startswith("cardlake: error: pan v1 is still in use by ")
    assert "published snapshot of cards" in line and "raw.cards.pan_token_key_version" in line
    assert "1" in json.loads(key_file.read_text())["keys"]["pan"]["versions"]
    # The warehouse is checked on its own: a raw table alone holding v1 is enough.
    assert snapshot_holders("pan", 1, key_file.parent / "empty-lake") == []
    assert warehouse_holders("pan", 1, warehouse_settings()) == [
        f"{warehouse_settings().project}.rotation_raw.cards.pan_token_key_version (holds v1)"
    ]

    # No flag: the cards run sees the recorded pan v1 and re-tokenizes every row.
    assert main(["run", "--all"]) == 0
    lines = _table_lines(capsys.readouterr().out)
    assert lines["cards"].startswith(
        "cards: full (key or normalizer version changed: pan v1 -> v2)"
    )
    assert lines["repayments"].startswith("repayments: incremental,")
    assert _versions_per_token_column() == {
        "cards.pan_token_key_version": {2},
        "members.full_name_token_key_version": {1},
        "members.email_token_key_version": {1},
        "members.phone_token_key_version": {1},
    }

    # Nothing holds pan v1 any more: accepted.
    assert main(["keys", "retire", "--name", "pan", "--version", "1"]) == 0
    assert "v1 retired" in capsys.readouterr().out
    assert "1" not in json.loads(key_file.read_text())["keys"]["pan"]["versions"]
