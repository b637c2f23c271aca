"""SparkSession for cardlake jobs: UTC everywhere, the MariaDB JDBC jar, loopback in local mode."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from etl.errors import CardlakeError
from etl.settings import settings
from masking.jvm import jvm_masking, masking_jar

LOG4J_CONFIG = Path(__file__).resolve().parent / "log4j2.properties"
# ParallelGC: the throughput collector suits batch jobs; on 2 cores G1's concurrent
# threads took ~15% of a 1M-row extract (bench/run.py). The heap-free ratios keep it from
# holding heap it no longer uses: at 10M rows the JVM peaked at ~0.68 GB instead of ~0.93 GB,
# in the same time (docs/benchmarks.md, "Memory"). Only sessions started here get these.
JAVA_OPTS = (
    f"-Duser.timezone=UTC -Dlog4j2.configurationFile=file:{LOG4J_CONFIG} "
    "-XX:+UseParallelGC -XX:MinHeapFreeRatio=5 -XX:MaxHeapFreeRatio=10"
)


def jdbc_jar() -> str:
    jar = str(settings().jdbc_jar)
    if not os.path.exists(jar):
        raise CardlakeError(
            f"MariaDB JDBC driver not found at {jar}: run `make bootstrap` "
            "(apt-get install libmariadb-java) or set CARDLAKE_JDBC_JAR"
        )
    return jar


def session_jars() -> str:
    """spark.jars for a session started here (the JDBC driver, the masking UDFs), once a
    Java runtime and both jars are found: each missing one is one line, before any work."""
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise CardlakeError(
            "cannot start Spark: no Java runtime (java not on PATH, JAVA_HOME unset); "
            "install Java 17 with `make bootstrap`"
        )
    return f"{jdbc_jar()},{masking_jar()}"


def _submitted(key: str) -> str:
    """A setting spark-submit was given (--conf), when this process runs under it: the
    session's own settings would otherwise replace it."""
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return ""
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()  # attaches spark-submit's JVM, whose properties hold it
    return SparkConf().get(key, "") or ""


def build_session(app_name: str, master: str | None = None) -> SparkSession:
    """The active session under spark-submit/Glue, else a local one configured here."""
    active = SparkSession.getActiveSession()
    if active is not None:
        session = active
    else:
        # Workers must run this interpreter, or they miss the project's packages.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.appName(app_name)
        master = master or settings().spark_master
        if master:
            builder = builder.master(master)
        if (master or "local").startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = builder.config("spark.driver.host", "127.0.0.1").config(
                "spark.driver.bindAddress", "127.0.0.1"
            )
        session = (
            builder.config("spark.jars", session_jars())
            .config("spark.driver.extraJavaOptions", JAVA_OPTS)
            .config(
                "spark.executor.extraJavaOptions",
                f"{JAVA_OPTS} {_submitted('spark.executor.extraJavaOptions')}".strip(),
            )
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config(
                "spark.sql.shuffle.partitions",
                str(settings().shuffle_partitions),
            )
            .getOrCreate()
        )
    configure(session)
    jvm_masking(session)  # a session without the masking library stops here, before any read
    return session


def configure(session: SparkSession) -> None:
    """Settings that must hold however the session was created."""
    conf = session.conf
    conf.set("spark.sql.session.timeZone", "UTC")
    conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    conf.set("spark.sql.parquet.compression.codec", "zstd")
    conf.set("spark.sql.sources.partitionOverwriteMode", "static")
    # Spark 4 turns ANSI mode on by default and 3.5 (Glue 5.0) off: the jobs are written
    # for ANSI semantics (overflow and invalid casts fail instead of turning NULL).
    conf.set("spark.sql.ansi.enabled", "true")
    # Proleptic Gregorian dates as they are (1582-10-10, 0001-01-01): Spark 4's default;
    # 3.5 refuses to write them unless told, or would shift them to the Julian calendar.
    for direction in ("Write", "Read"):
        conf.set(f"spark.sql.parquet.datetimeRebaseModeIn{direction}", "CORRECTED")
        conf.set(f"spark.sql.parquet.int96RebaseModeIn{direction}", "CORRECTED")
    session.sparkContext.setLogLevel(settings().spark_log_level)
    # Under spark-submit the driver JVM is already running: pin its default zone too, so
    # JDBC DATETIME values keep their wall clock (a JVM zone != session zone shifts them).
    jvm = session.sparkContext._jvm
    assert jvm is not None
    jvm.java.util.TimeZone.setDefault(jvm.java.util.TimeZone.getTimeZone("UTC"))
