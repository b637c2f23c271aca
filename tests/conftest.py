"""Session fixtures: real MariaDB primary+replica, real bqemulator, one local SparkSession.

Every server is started on free loopback ports in a throwaway CARDLAKE_HOME and stopped at
the end of the session. Token keys are generated here, never read from a file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from devstack import emulator, seed, stack
from devstack.localproc import free_port, port_free
from masking.keys import DocumentKeyProvider, new_key_document
from tests.support.session import PYSPARK_HOME, TEST_SEED, LoadedWarehouse, load_warehouse


@pytest.fixture(scope="session")
def cardlake_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("cardlake-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARDLAKE_HOME", str(home))
        for name in ("CARDLAKE_BQ_PROJECT", "CARDLAKE_SOURCE_HOST", "CARDLAKE_KEY_PROVIDER"):
            mp.delenv(name, raising=False)
        yield home


@pytest.fixture(scope="session")
def source_stack(cardlake_home: Path) -> Iterator[Path]:
    base = stack.stack_dir()
    stack.up(base, primary_port=free_port(), replica_port=free_port())
    yield base
    stack.down(base)


@pytest.fixture(scope="session")
def seeded(source_stack: Path) -> dict[str, int]:
    counts, _ = seed.seed(stack.endpoint("primary", "app"), TEST_SEED)
    stack.wait_for_replica()
    return counts


@pytest.fixture(scope="session")
def bq_emulator(cardlake_home: Path) -> Iterator[str]:
    emulator.up(port=free_port())
    yield emulator.endpoint_url()
    emulator.down()


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from etl.spark import build_session

    session = build_session("cardlake-tests", master="local[2]")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def test_keys() -> DocumentKeyProvider:
    return DocumentKeyProvider(new_key_document(dev_only=True), "generated-in-test")


@pytest.fixture(scope="session")
def loaded_warehouse(
    spark: SparkSession,
    seeded: dict[str, int],
    bq_emulator: str,
    tmp_path_factory: pytest.TempPathFactory,
    test_keys: DocumentKeyProvider,
) -> LoadedWarehouse:
    """Every table run through the pipeline once into datasets of its own (e2e_*), with all
    views deployed over them. Tests that change the source restore it (see reseed_after)."""
    return load_warehouse(spark, test_keys, tmp_path_factory, "e2e_")


@pytest.fixture()
def standalone_cluster(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "SPARK_HOME": str(PYSPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_WORKER_DIR": str(tmp_path / "worker"),
        "PYSPARK_PYTHON": sys.executable,
    }

    def daemon(main_class: str, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                str(PYSPARK_HOME / "bin" / "spark-class"),
                main_class,
                "--host",
                "127.0.0.1",
                "--webui-port",
                str(free_port()),
                *args,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    master_url = f"spark://127.0.0.1:{port}"
    procs = [daemon("org.apache.spark.deploy.master.Master", "--port", str(port))]
    deadline = time.monotonic() + 60
    while port_free(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    procs.append(
        daemon(
            "org.apache.spark.deploy.worker.Worker", "--cores", "2", "--memory", "2g", master_url
        )
    )
    yield master_url
    for proc in procs:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
