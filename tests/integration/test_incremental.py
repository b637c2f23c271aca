"""Incremental extraction on the real stack: nothing lost, nothing doubled, kill-safe."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from google.cloud import bigquery
from pyspark.sql import SparkSession

from devstack import stack
from devstack.source_schema import source_types
from etl import pipeline
from etl.contracts.manifest import manifest_for
from etl.lake.bookmarks import BookmarkStore
from etl.lake.snapshot import current
from etl.load import warehouse
from etl.load.raw_tables import raw_table
from etl.pipeline import SAFETY_LAG
from etl.settings import warehouse_settings
from masking.keys import DocumentKeyProvider
from tests.support.runs import run_context
from tests.support.session import reseed_after

pytestmark = [pytest.mark.stack, pytest.mark.spark, pytest.mark.warehouse]
TABLE = "repayments"


def _primary(sql: str, args: tuple = ()) -> list[tuple]:
    return stack.execute("primary", "app", sql, args)


def _source_state() -> set[tuple]:
    return {
        (int(i), str(amount), channel, updated.replace(tzinfo=None))
        for i, amount, channel, updated in _primary(
            f"SELECT repayment_id, amount, channel, updated_at FROM {TABLE}"
        )
    }


def _warehouse_state(bq: bigquery.Client) -> list[tuple]:
    settings = warehouse_settings()
    _, rows = warehouse.query_rows(
        bq,
        f"select repayment_id, amount, channel, updated_at "
        f"from `{settings.project}.{settings.raw_dataset}.{TABLE}`",
    )
    return [
        (int(i), f"{amount:.2f}", channel, updated.replace(tzinfo=None))
        for i, amount, channel, updated in rows
    ]


def _assert_warehouse_equals_source(bq: bigquery.Client) -> None:
    state = _warehouse_state(bq)
    assert len(state) == len(set(state)), "duplicates in the warehouse"
    assert set(state) == _source_state()


restore_source = reseed_after("restore_source")


@pytest.fixture()
def env(
    spark: SparkSession, seeded: dict[str, int], bq_emulator: str, tmp_path: Path
) -> dict[str, object]:
    return {"lake": tmp_path / "lake", "bookmarks": BookmarkStore(str(tmp_path / "bookmarks"))}


def _run(
    spark: SparkSession, keys: DocumentKeyProvider, env: dict, **kw: object
) -> pipeline.TableRun:
    context = run_context(
        spark,
        env["lake"],
        keys,
        pipeline.new_run_id(),
        bookmarks=env["bookmarks"],
        warehouse=warehouse_settings(),
    )
    [result] = pipeline.run_tables(context, [TABLE], pipeline.RunOptions(**kw))
    return result


def test_incremental_runs_pick_up_every_change_exactly_once(
    spark: SparkSession, test_keys: DocumentKeyProvider, env: dict
) -> None:
    bq = warehouse.client()
    first = _run(spark, test_keys, env)
    assert first.kind == "full"
    _assert_warehouse_equals_source(bq)
    watermark = env["bookmarks"].read(TABLE).watermark_at

    next_id = _primary(f"SELECT MAX(repayment_id) + 1 FROM {TABLE}")[0][0]
    new_row = (
        f"INSERT INTO {TABLE} (repayment_id, statement_id, member_id, channel, store_chain, amount,"
        " paid_at, created_at, updated_at) VALUES (%s, 1, 1, %s, NULL, %s, %s, %s, %s)"
    )
    # A row stamped exactly at the watermark, and one whose transaction "started" before
    # it but commits only now (a late commit): both must arrive.
    _primary(new_row, (next_id, "bank_transfer", "1000.00", watermark, watermark, watermark))
    late = watermark - dt.timedelta(minutes=3)
    _primary(new_row, (next_id + 1, "bank_transfer", "2000.00", late, late, late))
    _primary(
        f"UPDATE {TABLE} SET amount = amount + 1, channel = 'auto_debit', updated_at = UTC_TIMESTAMP(6)"
        " WHERE repayment_id IN (1, 2, 3)"
    )
    _primary(
        f"INSERT INTO {TABLE} SELECT repayment_id + 1000000, statement_id, member_id, channel, "
        "store_chain, amount, paid_at, created_at, UTC_TIMESTAMP(6) FROM repayments LIMIT 5"
    )
    stack.wait_for_replica()
    time.sleep(SAFETY_LAG.total_seconds() + 0.5)

    second = _run(spark, test_keys, env)
    assert second.kind == "incremental"
    assert 10 <= second.rows_written < first.rows_written
    _assert_warehouse_equals_source(bq)
    assert env["bookmarks"].read(TABLE).watermark_at > watermark

    # Nothing changed: another run (and a retry of the same window) adds nothing.
    third = _run(spark, test_keys, env)
    assert third.kind == "incremental"
    _assert_warehouse_equals_source(bq)
    snapshot = current(env["lake"], TABLE)
    declared = raw_table(manifest_for(TABLE), source_types(TABLE))
    warehouse.load_snapshot(bq, warehouse_settings(), snapshot, declared)
    _assert_warehouse_equals_source(bq)
    _primary(f"DELETE FROM {TABLE} WHERE repayment_id >= %s", (next_id,))
    _primary(f"UPDATE {TABLE} SET updated_at = UTC_TIMESTAMP(6) WHERE repayment_id IN (1, 2, 3)")


def test_lost_bookmark_replaces_instead_of_appending(
    spark: SparkSession, test_keys: DocumentKeyProvider, env: dict
) -> None:
    bq = warehouse.client()
    _run(spark, test_keys, env)
    stack.wait_for_replica()
    # Rows the previous test touched last are inside the safety lag for a fast first run.
    time.sleep(SAFETY_LAG.total_seconds() + 0.5)
    env["bookmarks"].delete(TABLE)
    again = _run(spark, test_keys, env)
    assert again.kind == "full"
    _assert_warehouse_equals_source(bq)
    (Path(env["bookmarks"].uri) / f"{TABLE}.json").write_text("{corrupt")
    assert env["bookmarks"].read(TABLE) is None
    assert _run(spark, test_keys, env).kind == "full"
    _assert_warehouse_equals_source(bq)


def test_kill_9_mid_write_keeps_the_last_good_output(
    spark: SparkSession, test_keys: DocumentKeyProvider, env: dict, tmp_path: Path
) -> None:
    bq = warehouse.client()
    lake: Path = env["lake"]
    _run(spark, test_keys, env, full_refresh=True)
    before = current(lake, TABLE)
    bookmark_file = Path(env["bookmarks"].uri) / f"{TABLE}.json"
    bookmark_before = bookmark_file.read_text()

    # A killed JVM cannot remove its scratch directories, so they go where pytest cleans up.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    child_env = {
        **os.environ,
        "CARDLAKE_KEYS": test_keys.as_env_value(),
        "CARDLAKE_KEY_PROVIDER": "env",
        "CARDLAKE_BOOKMARKS": env["bookmarks"].uri,
        "SPARK_LOCAL_DIRS": str(scratch),
        "TMPDIR": str(scratch),
        "JAVA_TOOL_OPTIONS": f"-Djava.io.tmpdir={scratch}",
    }
    job = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "etl.jobs.extract_table",
            "--JOB_NAME",
            "killed",
            "--table",
            TABLE,
            "--full_refresh",
            "true",
            "--lake",
            str(lake),
        ],
        env=child_env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs = lake / TABLE / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(runs.iterdir())) < 2:
        time.sleep(0.02)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert any(scratch.iterdir()), "the killed job's scratch must be in the test's directory"
    assert current(lake, TABLE) == before, "the killed run must not have published"
    assert bookmark_file.read_text() == bookmark_before
    assert spark.read.parquet(before.path).count() == before.rows
    _assert_warehouse_equals_source(bq)

    after = _run(spark, test_keys, env, full_refresh=True)
    assert after.rows_written == before.rows
    _assert_warehouse_equals_source(bq)


def test_every_run_leaves_an_audit_record_on_success_and_failure(
    spark: SparkSession,
    test_keys: DocumentKeyProvider,
    env: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil

    from etl.contracts.manifest import MANIFEST_DIR
    from etl.errors import CardlakeError
    from etl.load.runrecord import record_file

    ok = _run(spark, test_keys, env)
    manifests = tmp_path / "manifests"
    shutil.copytree(MANIFEST_DIR, manifests)
    path = manifests / f"{TABLE}.yaml"
    path.write_text(path.read_text().replace("  store_chain: attribute\n", ""))
    monkeypatch.setenv("CARDLAKE_MANIFEST_DIR", str(manifests))
    with pytest.raises(CardlakeError, match=r"repayments\.store_chain"):
        _run(spark, test_keys, env)

    local = [json.loads(line) for line in record_file().read_text().splitlines()]
    last_two = local[-2:]
    assert [r["outcome"] for r in last_two] == ["succeeded", "failed"]
    assert last_two[0]["rows_written"] == ok.rows_written
    assert last_two[0]["source_endpoint"].endswith(f"/{stack.endpoint('replica', 'etl').database}")
    assert "repayments.store_chain" in last_two[1]["error"]
    assert {"user", "host", "started_at", "finished_at", "key_versions"} <= set(last_two[1])
    settings = warehouse_settings()
    _, rows = warehouse.query_rows(
        warehouse.client(),
        f"select outcome, count(*) from `{settings.project}.{settings.ops_dataset}.run_records` "
        f"where table_name = '{TABLE}' group by outcome order by outcome",
    )
    outcomes = dict(rows)
    assert outcomes["failed"] >= 1 and outcomes["succeeded"] >= 1


def test_paused_replication_is_reported_and_never_skipped_past(
    spark: SparkSession, test_keys: DocumentKeyProvider, env: dict, source_stack: Path
) -> None:
    bq = warehouse.client()
    _run(spark, test_keys, env)
    replica = stack.ServerPaths("replica", source_stack)
    stack.admin_sql(replica, "STOP SLAVE SQL_THREAD")
    try:
        next_id = _primary(f"SELECT MAX(repayment_id) + 1 FROM {TABLE}")[0][0]
        _primary(
            f"INSERT INTO {TABLE} SELECT repayment_id + %s, statement_id, member_id, channel, "
            f"store_chain, amount, paid_at, created_at, UTC_TIMESTAMP(6) FROM {TABLE} LIMIT 3",
            (next_id,),
        )
        time.sleep(SAFETY_LAG.total_seconds() + 0.5)
        paused = _run(spark, test_keys, env)
        assert paused.window.replication == "SQL thread stopped"
        assert paused.kind == "incremental"
        _, rows = warehouse.query_rows(
            bq,
            f"select count(*) from `{warehouse_settings().project}.raw.{TABLE}` "
            f"where repayment_id >= {next_id}",
        )
        assert rows[0][0] == 0, "the replica does not have them yet"
    finally:
        stack.admin_sql(replica, "START SLAVE SQL_THREAD")
    stack.wait_for_replica()
    time.sleep(SAFETY_LAG.total_seconds() + 0.5)
    resumed = _run(spark, test_keys, env)
    assert resumed.window.replication == "running"
    _assert_warehouse_equals_source(bq)
    _primary(f"DELETE FROM {TABLE} WHERE repayment_id >= %s", (next_id,))
