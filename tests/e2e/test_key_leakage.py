"""No key or key-derived byte in any text Spark writes: a real job under spark-submit on a
standalone cluster with the event log on and every logger at DEBUG (driver, executors,
py4j), and the extended explain of a masked frame, scanned for every key in use."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from etl.contracts.manifest import TableManifest, manifest_for
from masking.jvm import masking_jar
from masking.keys import KEY_NAMES, DocumentKeyProvider
from masking.policy import to_masked
from tests.support.session import PYSPARK_HOME, REPO

pytestmark = [pytest.mark.stack, pytest.mark.spark, pytest.mark.warehouse]
BLOCK = 64
DEBUG_LOG4J = """
rootLogger.level = debug
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %p %c: %m%n
"""
JOB = """
import logging, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
for name in ("py4j", "py4j.java_gateway", "py4j.clientserver"):
    logging.getLogger(name).setLevel(logging.DEBUG)
from etl.jobs.extract_table import main
for table in ("cards", "members"):
    main(["job", "--JOB_NAME", "leak", "--table", table, "--lake", sys.argv[1],
          "--full_refresh", "true"])
"""


def key_forms(key: bytes) -> list[bytes]:
    """The key, key XOR ipad and key XOR opad (the key-dependent bytes of each), as raw
    bytes, hex in either case (which covers Spark's X'..' and 0x.. literals) and base64 at
    every alignment."""
    padded = key if len(key) <= BLOCK else hashlib.sha256(key).digest()
    secrets = [key, bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded)]
    forms = []
    for secret in secrets:
        forms += [secret, secret.hex().encode(), secret.hex().upper().encode()]
        for shift in range(3):
            for encode in (base64.b64encode, base64.urlsafe_b64encode):
                encoded = encode(b"\0" * shift + secret + b"\0" * 3)
                forms.append(encoded[4:-8])  # the part that depends on the secret alone
    return forms


def leaks(blob: bytes, forms: list[bytes]) -> int:
    lowered = blob.lower()
    return sum(form in blob or form.lower() in lowered for form in forms)


def test_the_scan_finds_a_planted_key(test_keys: DocumentKeyProvider) -> None:
    key = test_keys.current("pan").material
    forms = key_forms(key)
    assert leaks(f"x X'{key.hex().upper()}' y".encode(), forms)
    pad = bytes(b ^ 0x5C for b in key)
    assert leaks(b"literal " + base64.b64encode(b"ab" + pad), forms)
    assert not leaks(b"cl_token_pan_v1_pan_1(pan#3)", forms)


def test_no_key_byte_in_event_logs_debug_logs_or_explain(
    spark: SparkSession,
    seeded: dict[str, int],
    bq_emulator: str,
    test_keys: DocumentKeyProvider,
    standalone_cluster: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    events, lake = tmp_path / "events", tmp_path / "lake"
    events.mkdir()
    (tmp_path / "log4j2-debug.properties").write_text(DEBUG_LOG4J)
    (tmp_path / "job.py").write_text(JOB)
    log4j = f"-Dlog4j2.configurationFile=file:{tmp_path / 'log4j2-debug.properties'}"
    env = {
        **os.environ,
        "CARDLAKE_KEYS": test_keys.as_env_value(),
        "CARDLAKE_KEY_PROVIDER": "env",
        "CARDLAKE_SPARK_LOG_LEVEL": "DEBUG",
        "CARDLAKE_BQ_DATASET_PREFIX": "leak_",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PYTHONPATH": str(REPO),
        "SPARK_HOME": str(PYSPARK_HOME),
    }
    proc = subprocess.run(
        [
            str(PYSPARK_HOME / "bin" / "spark-submit"),
            "--master",
            standalone_cluster,
            "--jars",
            f"/usr/share/java/mariadb-java-client.jar,{masking_jar()}",
            "--driver-java-options",
            f"-Duser.timezone=UTC {log4j}",
            "--conf",
            f"spark.executor.extraJavaOptions={log4j}",
            "--conf",
            "spark.eventLog.enabled=true",
            "--conf",
            f"spark.eventLog.dir=file://{events}",
            "--conf",
            "spark.eventLog.compress=false",
            str(tmp_path / "job.py"),
            str(lake),
        ],
        env=env,
        capture_output=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:].decode(errors="replace")

    masked = to_masked(
        spark.createDataFrame([(1, "4" * 16)], "card_id long, pan string").select("card_id", "pan"),
        _cards_pan_only(),
        test_keys,
        dt.date(2026, 6, 30),
    )
    masked.explain("extended")
    explain = capsys.readouterr().out.encode()

    worker_logs = b"".join(p.read_bytes() for p in (tmp_path / "worker").rglob("std*"))
    event_log = b"".join(p.read_bytes() for p in events.rglob("*") if p.is_file())
    texts = {
        "event log": event_log,
        "driver log": proc.stdout + proc.stderr,
        "executor logs": worker_logs,
        "explain": explain,
    }
    # The logs really are at DEBUG and the plans really hold the token UDFs.
    driver_log = proc.stdout + proc.stderr  # spark-submit passes Python's stderr to stdout
    assert b"DEBUG org.apache.spark" in driver_log and b"DEBUG:py4j" in driver_log
    assert b"DEBUG org.apache.spark.executor" in worker_logs
    assert b"cl_token_pan_v1_pan" in event_log and b"cl_token_pii_v1_email" in event_log
    assert b"cl_token_pan_v1_pan" in explain
    for name in KEY_NAMES:
        forms = key_forms(test_keys.current(name).material)
        found = {where: leaks(text, forms) for where, text in texts.items()}
        assert found == dict.fromkeys(texts, 0), f"key {name!r} found in {found}"


def _cards_pan_only() -> TableManifest:
    manifest = manifest_for("cards")
    return replace(manifest, columns={k: manifest.columns[k] for k in ("card_id", "pan")})
