"""The lake and the job's state on S3, against a real S3 API: moto in server mode on loopback.

Local Spark has no s3a connector here (its jars are not in the reachable registries), so
Spark writes each run's files to a local temporary directory and cardlake copies them under
the run's S3 prefix, which is also what any Spark without an S3 filesystem does (on Glue,
Spark writes to S3 itself). Every step after the write runs against the server: publishing
with a conditional put, leases, bookmarks, reports, reading the snapshot to load BigQuery,
reconciliation and pruning.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from devstack import stack
from etl import pipeline
from etl.errors import EXIT_ERROR, CardlakeError
from etl.lake.bookmarks import BookmarkStore
from etl.lake.snapshot import KEEP_RUNS, read_pointer
from etl.lake.store import Store
from etl.load import warehouse
from etl.settings import warehouse_settings
from masking.keys import DocumentKeyProvider
from tests.support.aws import aws_env, client, moto_server
from tests.support.cli import CARDLAKE, error_line, run_cardlake
from tests.support.runs import run_context
from tests.support.session import reseed_after

pytestmark = [pytest.mark.stack, pytest.mark.spark, pytest.mark.warehouse]
TABLE = "repayments"
BUCKET = "cardlake-lake"

restore_source = reseed_after("restore_source_after_s3")


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with (
        moto_server(tmp_path_factory.mktemp("moto")) as endpoint,
        pytest.MonkeyPatch.context() as mp,
    ):
        for name, value in aws_env(endpoint).items():
            mp.setenv(name, value)
        client(endpoint, "s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"}
        )
        yield endpoint


@pytest.fixture()
def where(
    s3: str, request: pytest.FixtureRequest, seeded: dict[str, int], bq_emulator: str
) -> dict[str, str]:
    """A lake and a bookmark prefix of the test's own in the bucket, over the test stack."""
    prefix = f"s3://{BUCKET}/{request.node.name}"
    return {"lake": f"{prefix}/lake", "bookmarks": f"{prefix}/state/bookmarks"}


def _objects(endpoint: str, prefix: str) -> dict[str, str]:
    """Key -> ETag of every object under an s3:// prefix."""
    bucket, _, key = prefix.removeprefix("s3://").partition("/")
    pages = (
        client(endpoint, "s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=bucket, Prefix=key + "/")
    )
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def _get(endpoint: str, uri: str) -> str | None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        body = client(endpoint, "s3").get_object(Bucket=bucket, Key=key)["Body"]
    except Exception as exc:
        if "NoSuchKey" in type(exc).__name__:
            return None
        raise
    return str(body.read().decode())


def _run(
    spark: SparkSession, keys: DocumentKeyProvider, where: dict[str, str], **options: Any
) -> pipeline.TableRun:
    context = run_context(
        spark,
        Store(where["lake"]),
        keys,
        pipeline.new_run_id(),
        bookmarks=BookmarkStore(where["bookmarks"]),
        warehouse=warehouse_settings(),
    )
    [result] = pipeline.run_tables(context, [TABLE], pipeline.RunOptions(**options))
    return result


def _warehouse_matches_source() -> None:
    settings = warehouse_settings()
    _, rows = warehouse.query_rows(
        warehouse.client(),
        f"select repayment_id, amount from `{settings.project}.{settings.raw_dataset}.{TABLE}`",
    )
    loaded = [(int(i), f"{a:.2f}") for i, a in rows]
    source = stack.execute("primary", "app", f"SELECT repayment_id, amount FROM {TABLE}")
    assert len(loaded) == len(set(loaded)), "duplicates in the warehouse"
    assert set(loaded) == {(int(i), str(a)) for i, a in source}


def _child_env(keys: DocumentKeyProvider, where: dict[str, str], scratch: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CARDLAKE_KEY_PROVIDER": "env",
        "CARDLAKE_KEYS": keys.as_env_value(),
        "CARDLAKE_LAKE": where["lake"],
        "CARDLAKE_BOOKMARKS": where["bookmarks"],
        # A killed JVM cannot remove its scratch: it goes where pytest cleans up.
        "SPARK_LOCAL_DIRS": str(scratch),
        "TMPDIR": str(scratch),
        "JAVA_TOOL_OPTIONS": f"-Djava.io.tmpdir={scratch}",
    }


def test_full_and_incremental_runs_publish_load_and_prune_on_s3(
    spark: SparkSession, test_keys: DocumentKeyProvider, where: dict[str, str], s3: str
) -> None:
    first = _run(spark, test_keys, where)
    assert first.kind == "full" and first.rows_loaded > 0
    assert first.snapshot.path == f"{where['lake']}/{TABLE}/runs/{first.snapshot.run_id}"
    pointer = json.loads(_get(s3, f"{where['lake']}/{TABLE}/CURRENT.json") or "{}")
    assert pointer["run_id"] == first.snapshot.run_id
    run_files = _objects(s3, first.snapshot.path)
    parts = [k for k in run_files if k.endswith(".parquet")]
    assert parts and not [k for k in run_files if k.endswith(".crc")]
    assert {"_quality.json", "_PUBLISHED"} <= {k.rsplit("/", 1)[1] for k in run_files}
    assert not [k for k in _objects(s3, where["lake"]) if k.endswith("LEASE.json")]
    gx_files = _objects(s3, f"{where['lake']}/_gx")
    assert [k for k in gx_files if f"/validations/{TABLE}/{first.snapshot.run_id}/" in k]
    assert [k for k in gx_files if k.endswith("/data_docs/index.html")], "GX stores on S3"
    bookmark = json.loads(_get(s3, f"{where['bookmarks']}/{TABLE}.json") or "{}")
    assert bookmark["run_id"] == first.snapshot.run_id
    assert BookmarkStore(where["bookmarks"]).tables() == [TABLE]
    _warehouse_matches_source()

    stack.execute(
        "primary",
        "app",
        f"UPDATE {TABLE} SET amount = amount + 1, updated_at = UTC_TIMESTAMP(6) "
        f"WHERE repayment_id IN (SELECT * FROM (SELECT repayment_id FROM {TABLE} "
        "ORDER BY repayment_id LIMIT 5) AS few)",
    )
    stack.wait_for_replica()
    time.sleep(pipeline.SAFETY_LAG.total_seconds() + 0.5)
    second = _run(spark, test_keys, where)
    assert second.kind == "incremental" and 5 <= second.rows_written < first.rows_written
    assert second.snapshot.base_runs == (first.snapshot.run_id, second.snapshot.run_id)
    assert read_pointer(where["lake"], TABLE).snapshot == second.snapshot
    _warehouse_matches_source()

    for _ in range(KEEP_RUNS):
        last = _run(spark, test_keys, where, full_refresh=True)
    runs = Store(where["lake"]).children(f"{TABLE}/runs")
    assert len(runs) == KEEP_RUNS and last.snapshot.run_id in runs
    assert first.snapshot.run_id not in runs, "old runs are pruned from S3"
    _warehouse_matches_source()


def test_kill_9_between_write_and_publish_keeps_the_pointer_on_s3(
    spark: SparkSession,
    test_keys: DocumentKeyProvider,
    where: dict[str, str],
    s3: str,
    tmp_path: Path,
) -> None:
    before = _run(spark, test_keys, where)
    pointer = f"{where['lake']}/{TABLE}/CURRENT.json"
    pointer_before = _get(s3, pointer)
    bookmark_before = _get(s3, f"{where['bookmarks']}/{TABLE}.json")

    job = subprocess.Popen(
        [sys.executable, "-m", "etl.jobs.extract_table", "--JOB_NAME", "killed", "--table", TABLE],
        env=_child_env(test_keys, where, tmp_path),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs = f"{where['lake']}/{TABLE}/runs"
    deadline = time.monotonic() + 180
    killed_run = None
    while killed_run is None and time.monotonic() < deadline and job.poll() is None:
        uploaded = [k for k in _objects(s3, runs) if before.snapshot.run_id not in k]
        if any(k.endswith(".parquet") for k in uploaded):
            killed_run = uploaded[0].split("/runs/")[1].split("/")[0]
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert killed_run is not None, "the job was killed after its files reached S3"
    assert _get(s3, pointer) == pointer_before, "the killed run must not have published"
    assert _get(s3, f"{where['bookmarks']}/{TABLE}.json") == bookmark_before
    assert _get(s3, f"{where['lake']}/{TABLE}/LEASE.json") is not None, "killed holding it"
    _warehouse_matches_source()

    after = _run(spark, test_keys, where)
    assert after.snapshot.run_id != killed_run
    left = _objects(s3, f"{runs}/{killed_run}")
    assert not [k for k in left if k.endswith(".parquet")], "the next run swept its files"
    lake = Store(where["lake"])
    assert killed_run not in lake.children(f"{TABLE}/runs"), "no empty marker left behind"
    _warehouse_matches_source()


def test_two_concurrent_runs_one_publishes_the_other_fails_with_one_line(
    test_keys: DocumentKeyProvider, where: dict[str, str], s3: str, tmp_path: Path
) -> None:
    env = _child_env(test_keys, where, tmp_path)
    runs = [
        subprocess.Popen(
            [str(CARDLAKE), "run", "--table", TABLE],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [(run.wait(timeout=600), *run.communicate()) for run in runs]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, EXIT_ERROR], outcomes
    [(_, _, failed)] = [o for o in outcomes if o[0] == EXIT_ERROR]
    line = error_line(subprocess.CompletedProcess([], EXIT_ERROR, "", failed))
    assert "is still running it" in line and where["lake"] in line
    published = read_pointer(where["lake"], TABLE).snapshot
    assert published is not None
    bookmark = BookmarkStore(where["bookmarks"]).read(TABLE)
    assert bookmark is not None and bookmark.run_id == published.run_id
    assert Store(where["lake"]).children(f"{TABLE}/runs") == [published.run_id]
    _warehouse_matches_source()


def test_a_run_that_loses_the_publish_race_publishes_nothing_and_keeps_nothing(
    spark: SparkSession,
    test_keys: DocumentKeyProvider,
    where: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lease keeps a second run out; the conditional put is what still stops one whose
    lease was taken over as stale while it ran (a paused host): it read the pointer before
    the other run published."""
    stale = read_pointer(where["lake"], TABLE)
    winner = _run(spark, test_keys, where)
    bookmark = BookmarkStore(where["bookmarks"]).read(TABLE)
    monkeypatch.setattr(pipeline, "read_pointer", lambda lake, table: stale)
    with pytest.raises(CardlakeError, match="another run published the table") as lost:
        _run(spark, test_keys, where, full_refresh=True)
    assert str(lost.value).count("\n") == 0
    assert read_pointer(where["lake"], TABLE).snapshot == winner.snapshot
    assert BookmarkStore(where["bookmarks"]).read(TABLE) == bookmark
    lake = Store(where["lake"])
    [loser] = [r for r in lake.children(f"{TABLE}/runs") if r != winner.snapshot.run_id]
    assert lake.children(f"{TABLE}/runs/{loser}") == ["_quality.json"], "counts only"
    _warehouse_matches_source()


def _cli_error(env: dict[str, str], *args: str) -> str:
    return error_line(run_cardlake(*args, env=env, code=EXIT_ERROR))


def test_bad_locations_and_credentials_are_one_line_and_change_nothing(
    spark: SparkSession,
    test_keys: DocumentKeyProvider,
    where: dict[str, str],
    s3: str,
    tmp_path: Path,
) -> None:
    _run(spark, test_keys, where)
    state = {**_objects(s3, where["lake"]), **_objects(s3, where["bookmarks"])}
    env = _child_env(test_keys, where, tmp_path)

    # Spark here cannot read s3:// (no s3a jars): the PAN scan says so instead of failing.
    assert "this Spark has no filesystem" in _cli_error(env, "scan")

    missing = {**env, "CARDLAKE_LAKE": "s3://no-such-bucket-here/lake"}
    line = _cli_error(missing, "run", "--table", TABLE)
    assert "s3://no-such-bucket-here/lake" in line and "does not exist" in line

    no_credentials = {
        k: v for k, v in env.items() if k not in {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    }
    no_credentials.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none")
    )
    assert "no cloud credentials" in _cli_error(no_credentials, "run", "--table", TABLE)

    # A principal that may read and list the bucket but not write to it, with moto
    # enforcing IAM from here on.
    iam = client(s3, "iam")
    iam.create_user(UserName="reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
            }
        ],
    }
    iam.put_user_policy(
        UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps(policy)
    )
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    reader = {
        **env,
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }
    _enforce_iam(s3, after_actions="0")
    try:
        line = _cli_error(reader, "run", "--table", TABLE)
    finally:
        _enforce_iam(s3, after_actions="inf")
    assert "access denied" in line and where["lake"] in line

    assert {**_objects(s3, where["lake"]), **_objects(s3, where["bookmarks"])} == state


def _enforce_iam(endpoint: str, after_actions: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=after_actions.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},  # a form body would reach moto empty
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
