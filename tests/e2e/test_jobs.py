"""The job script as engineers run it: spark-submit, a standalone cluster, any machine zone."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from devstack import stack
from etl.contracts.manifest import MANIFEST_DIR
from etl.lake.snapshot import current
from etl.load import warehouse
from etl.settings import warehouse_settings
from masking.jvm import masking_jar
from masking.keys import DocumentKeyProvider
from tests.support.session import PYSPARK_HOME, REPO

pytestmark = [pytest.mark.stack, pytest.mark.spark, pytest.mark.warehouse]
MAX_U64 = 18446744073709551615
GOLDEN = [
    # id, amount, at (UTC wall clock), d, flag, txt
    (MAX_U64, "9999999999999999.99", "2024-12-31 15:00:00", "1970-01-01", 1, "東京 🎉 Ünïcode"),
    (1, "-9999999999999999.99", "2025-01-01 00:00:00", "2038-01-19", 0, None),
    (2, None, "2025-06-30 23:59:59.999999", None, None, ""),
    (3, "0.00", "2025-07-01 00:00:00", "0000-00-00", None, "zero date"),
    # Calendar edges: a day the Julian-Gregorian switch skipped, the first and last days.
    (4, "0.01", "1582-10-10 12:00:00.000001", "9999-12-31", 1, "calendar edges"),
    (5, "0.02", "0001-01-01 00:00:00", "0001-01-01", 0, None),
    (6, "0.03", "2025-07-02 00:00:00", "2024-00-10", None, "zero month"),
]


def _primary(sql: str, args: tuple = ()) -> None:
    stack.execute("primary", "app", sql, args)


@pytest.fixture()
def golden(
    seeded: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    _primary(
        "CREATE TABLE golden_types (id BIGINT UNSIGNED PRIMARY KEY, amount DECIMAL(18,2),"
        " at DATETIME(6) NOT NULL, d DATE, flag TINYINT(1), txt VARCHAR(100),"
        " updated_at DATETIME(6) NOT NULL, closed_on DATE)"
    )
    for row in GOLDEN:
        # A lax sql_mode, as legacy applications run, lets zero dates in.
        _primary(
            "SET STATEMENT sql_mode = '' FOR "
            "INSERT INTO golden_types VALUES (%s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(6), NULL)",
            row,
        )
    # A dropped date column is still read: its zero dates are counted on the source.
    _primary(
        "SET STATEMENT sql_mode = '' FOR "
        "UPDATE golden_types SET closed_on = '0000-00-00' WHERE id = 3"
    )
    stack.wait_for_replica()
    manifests = tmp_path / "manifests"
    shutil.copytree(MANIFEST_DIR, manifests)
    (manifests / "golden_types.yaml").write_text(
        "table: golden_types\nprimary_key: [id]\ncursor: updated_at\nbusiness_date: at\n"
        "columns:\n  id: key\n  amount: measure\n  at: attribute\n  d: attribute\n"
        "  flag: attribute\n  txt: attribute\n  updated_at: attribute\n"
        "  closed_on: {class: attribute, action: drop}\n"
    )
    monkeypatch.setenv("CARDLAKE_MANIFEST_DIR", str(manifests))
    yield manifests
    _primary("DROP TABLE golden_types")


def _job(args: list[str], keys: DocumentKeyProvider, lake: Path, **env: str) -> None:

    child = {
        **os.environ,
        "CARDLAKE_KEYS": keys.as_env_value(),
        "CARDLAKE_KEY_PROVIDER": "env",
        "PYSPARK_PYTHON": sys.executable,
        **env,
    }
    proc = subprocess.run(
        [
            *args,
            "--JOB_NAME",
            "golden",
            "--table",
            "golden_types",
            "--lake",
            str(lake),
            "--full_refresh",
            "true",
        ],
        env=child,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def _expected() -> list[tuple]:
    utc = dt.UTC
    return [
        (
            decimal.Decimal(i),
            None if amount is None else decimal.Decimal(amount),
            dt.datetime.fromisoformat(at).replace(tzinfo=utc),
            None if d is None or "-00" in d else dt.date.fromisoformat(d),
            None if flag is None else bool(flag),
            txt,
        )
        for i, amount, at, d, flag, txt in GOLDEN
    ]


@pytest.mark.parametrize("machine_zone", ["UTC", "Asia/Tokyo"])
def test_golden_row_round_trips_exactly(
    golden: Path,
    bq_emulator: str,
    test_keys: DocumentKeyProvider,
    tmp_path: Path,
    machine_zone: str,
) -> None:
    lake = tmp_path / "lake"
    _job([sys.executable, "-m", "etl.jobs.extract_table"], test_keys, lake, TZ=machine_zone)
    snapshot = current(lake, "golden_types")
    assert snapshot is not None
    table = (
        ds.dataset(snapshot.path, format="parquet", partitioning="hive").to_table().sort_by("id")
    )
    rows = list(
        zip(
            *(table.column(c).to_pylist() for c in ["id", "amount", "at", "d", "flag", "txt"]),
            strict=True,
        )
    )
    assert sorted(rows, key=lambda r: r[0]) == sorted(_expected(), key=lambda r: r[0])
    # JST midnight (15:00 UTC the day before) belongs to the JST business date.
    dates = dict(
        zip(table.column("id").to_pylist(), table.column("business_date").to_pylist(), strict=True)
    )
    assert str(dates[decimal.Decimal(MAX_U64)]) == "2025-01-01"

    import json

    from etl.load.runrecord import record_file

    last = json.loads(record_file().read_text().splitlines()[-1])
    assert (last["table_name"], last["outcome"]) == ("golden_types", "succeeded")
    # d is written as read (its NULLs beyond the source's are zero dates); closed_on is not.
    assert last["zero_dates_to_null"] == "d=2, closed_on=1"

    settings = warehouse_settings()
    _, bq_rows = warehouse.query_rows(
        warehouse.client(),
        f"select `id`, `amount`, `at`, `d`, `flag`, `txt` from "
        f"`{settings.project}.{settings.raw_dataset}.golden_types`",
    )
    assert sorted(bq_rows, key=lambda r: r[0]) == sorted(_expected(), key=lambda r: r[0])


def test_job_runs_on_a_standalone_cluster_via_spark_submit(
    golden: Path,
    bq_emulator: str,
    test_keys: DocumentKeyProvider,
    tmp_path: Path,
    standalone_cluster: str,
) -> None:
    lake = tmp_path / "lake"
    script = REPO / "etl" / "jobs" / "extract_table.py"
    _job(
        [
            str(PYSPARK_HOME / "bin" / "spark-submit"),
            "--master",
            standalone_cluster,
            "--jars",
            f"/usr/share/java/mariadb-java-client.jar,{masking_jar()}",
            str(script),
        ],
        test_keys,
        lake,
        SPARK_HOME=str(PYSPARK_HOME),
        PYSPARK_DRIVER_PYTHON=sys.executable,
    )
    snapshot = current(lake, "golden_types")
    assert snapshot is not None and snapshot.rows == len(GOLDEN)
