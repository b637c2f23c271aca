"""cardlake against the tools users would pick instead, same data, same run, side by side.

    make bench ROWS=1000000          # or: .venv/bin/python -m bench.run --rows 1000000

Seeds (or reuses) a private MariaDB primary + replica holding N transactions, then runs
each variant in turn as a child process reading the replica and writing Parquet:

  cardlake job        the real job: JDBC, keyed-HMAC masking, DQ gate, publish
  cardlake masking    the same extract and masking, written without the gate
  cardlake masking, shipped manifest
                      the shipped transactions manifest: memo redaction, no token column
  copy (unmasked)     the same extract written unmasked: the upper bound
  pandas + hmac       pandas.read_sql (streamed chunks) + Python hmac + pyarrow
  dlt + hmac          dlt sql_table (pyarrow backend) + Python hmac, filesystem Parquet
  Spark Python UDF    the same Spark extract, tokens from a plain Python UDF
  ConnectorX + hmac   connectorx.read_sql (2 partitions) to Arrow + Python hmac + pyarrow
  DuckDB + SQL HMAC   DuckDB's mysql extension, HMAC-SHA256 in SQL, COPY ... TO Parquet
  ingestr copy (unmasked)
                      the ingestr CLI, replica to a Parquet file: a throughput reference
  mariadb client scan mariadb --quick -e "select * from transactions" > /dev/null: the
                      read ceiling (one connection, nothing written)

Each variant runs --repeat times (default 3) in interleaved rounds, each run a fresh
process; the table shows the median time and the range of the runs, since a shared 2-core
machine drifts by 10-20% between minutes.

The masked variants tokenize card_id and member_id with the same generated key and drop
the memo; on a sample, their tokens are checked against Python's hmac over the replica's own
values. Every variant is timed twice: its work alone, and with the start-up of its process
(interpreter, JVM, a CLI tool's start and connection). It prints one table (rows/s, rows/s
per core, CPU seconds, peak RSS of the variant's process tree, output bytes, time over
cardlake's) plus OpenSSL's single-core HMAC-SHA256 rate and Spark's tokenizer rate, and
keeps it as Markdown and JSON in bench/results/ (or --results).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from bench.common import RESULTS_DIR, write_results

SEED_BASE_ROWS = 1_000_000  # generated; larger N is reached by copying on the primary
TRANSACTIONS_PER_MEMBER = 13.5  # of the seeder at 120 days
MASKED_COLUMNS = ("card_id", "member_id")
SAMPLE = 500
VARIANTS = [
    "cardlake job",
    "cardlake masking",
    "cardlake masking, shipped manifest",
    "copy (unmasked)",
    "pandas + hmac",
    "dlt + hmac",
    "Spark Python UDF",
    "ConnectorX + hmac",
    "DuckDB + SQL HMAC",
    "ingestr copy (unmasked)",
    "mariadb client scan",
]
SPARK_CORES = 2
SPARK_VARIANTS = {
    "cardlake job",
    "cardlake masking",
    "cardlake masking, shipped manifest",
    "copy (unmasked)",
    "Spark Python UDF",
}
# Command-line tools, timed around their own process (see _cli_variant).
CLI_VARIANTS = {"ingestr copy (unmasked)", "mariadb client scan"}
UNTOKENIZED = {"copy (unmasked)", "cardlake masking, shipped manifest", *CLI_VARIANTS}


# --- the variants (each runs in its own child process) --------------------------------


def _key() -> tuple[bytes, int]:
    from masking.keys import key_provider

    key = key_provider().current("pii")
    return key.material, key.version


def _token(key: bytes, value: Any) -> bytes:
    """The reference token: Python's hmac over the key column's decimal digits."""
    return hmac.new(key, str(int(value)).encode(), hashlib.sha256).digest()


def _hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """K xor ipad and K xor opad (RFC 2104), for an HMAC built from a plain SHA-256."""
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def _mysql_uri(endpoint: Any) -> str:
    """mysql://user:password@host:port/database, for tools that take a URI."""
    login = f"{quote(endpoint.user, safe='')}:{quote(endpoint.password, safe='')}"
    return f"mysql://{login}@{endpoint.host}:{endpoint.port}/{quote(endpoint.database)}"


def _spark_extract(spark: Any) -> tuple[Any, Any]:
    import datetime as dt

    from etl.contracts.manifest import manifest_for
    from etl.extract.endpoint import source_endpoint
    from etl.extract.source import (
        ReadPlan,
        extract_table,
        plan_window,
        profile_window,
        source_columns,
    )

    manifest = manifest_for("transactions")
    endpoint = source_endpoint()
    window = plan_window(endpoint, manifest, None, dt.timedelta(0), dt.timedelta(0))
    columns = source_columns(endpoint, manifest.table)
    keys = profile_window(endpoint, manifest, window, columns).keys
    return extract_table(
        spark, endpoint, manifest, ReadPlan(window=window, columns=columns, keys=keys)
    ), manifest


def _spark_write(df: Any, manifest: Any, out: Path) -> int:
    """Written as the job writes its snapshots (flat files, business_date a column, zstd)."""
    from etl.lake.snapshot import LakeRun, write_snapshot
    from etl.lake.store import Store
    from etl.transforms import with_business_date

    run = LakeRun(Store(out), manifest.table, "bench")
    return write_snapshot(with_business_date(df, manifest), run, previous=None).rows


def run_variant(name: str, out: Path) -> dict[str, Any]:
    """One variant, timed from its first source read to its last output byte, and again
    "with start-up": from the start of its process (Python, the bench's imports, the JVM).

    CPU seconds (this process, plus Spark's JVM and its Python workers) show the work
    behind the wall time: the Spark variants spread it over two cores, the peers use one.
    """
    if name in CLI_VARIANTS:
        return _cli_variant(name, out)
    spark = duckdb = None
    if name in SPARK_VARIANTS:
        spark = _started_spark(name)
    elif name == "DuckDB + SQL HMAC":
        duckdb = _duckdb_with_mysql_extension(out / "_duckdb_extensions")

    jvm_pid = None if spark is None else spark.sparkContext._jvm.ProcessHandle.current().pid()

    def cpu_seconds() -> float:
        return time.process_time() + (0.0 if jvm_pid is None else _tree_cpu_seconds(jvm_pid))

    cpu_started, started = cpu_seconds(), time.perf_counter()
    phases: dict[str, float] = {}
    if spark is not None:
        rows, cores = _spark_variant(spark, name, out), SPARK_CORES
    elif name == "pandas + hmac":
        rows, cores = _pandas_variant(out), 1
    elif name == "dlt + hmac":
        rows, cores = _dlt_variant(out), 1
    elif name == "ConnectorX + hmac":
        rows, cores = _connectorx_variant(out, phases), 2  # two reading connections
    elif name == "DuckDB + SQL HMAC":
        rows, cores = _duckdb_variant(duckdb, out), 2  # DuckDB's threads: one per core
    else:
        raise SystemExit(f"unknown variant {name!r}")
    seconds = time.perf_counter() - started
    total_cpu = cpu_seconds()  # process_time() counts from the process's start
    return {
        "rows": rows,
        "seconds": seconds,
        "cpu_seconds": total_cpu - cpu_started,
        "seconds_with_startup": _process_age(),
        "cpu_seconds_with_startup": total_cpu,
        "cores": cores,
        "phases": phases,
    }


def _started_spark(name: str) -> Any:
    """A local session whose JVM has run one job: JVM start is not part of any variant's time."""
    from etl.spark import build_session

    spark = build_session(f"bench-{name}", master=f"local[{SPARK_CORES}]")
    spark.range(1).count()
    return spark


def _process_age() -> float:
    """Seconds since this process started (/proc, 10 ms resolution)."""
    fields = _stat_fields(os.getpid())
    assert fields is not None
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")  # starttime, in ticks


def _tree_cpu_seconds(root: int) -> float:
    """User + system CPU so far of a process and its live descendants, from /proc."""
    ticks = 0
    for pid in _process_tree(root):
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _spark_variant(spark: Any, name: str, out: Path) -> int:
    if name == "cardlake job":
        from etl.extract.endpoint import source_endpoint
        from etl.lake.bookmarks import BookmarkStore
        from etl.lake.store import Store
        from etl.pipeline import RunContext, RunOptions, extract_and_publish
        from masking.keys import key_provider

        context = RunContext(
            spark=spark,
            source=source_endpoint(),
            keys=key_provider(),
            lake=Store(out),
            bookmarks=BookmarkStore(str(out / "_bookmarks")),
            run_id="bench",
        )
        result = extract_and_publish(context, "transactions", RunOptions(full_refresh=True))
        return int(result.snapshot.rows)
    df, manifest = _spark_extract(spark)
    if name.startswith("cardlake masking"):
        import datetime as dt

        from etl.contracts.manifest import MANIFEST_DIR, manifest_for
        from masking.keys import key_provider
        from masking.policy import to_masked

        if name.endswith("shipped manifest"):  # free-text redaction of memo, no tokens
            manifest = manifest_for("transactions", MANIFEST_DIR)
        df = to_masked(df, manifest, key_provider(), as_of=dt.date.today())
    elif name == "Spark Python UDF":
        from pyspark.sql import functions as F

        key, version = _key()

        @F.udf("binary")
        def python_hmac(value: Any) -> bytes | None:
            return None if value is None else _token(key, value)

        for column in MASKED_COLUMNS:
            df = df.withColumn(f"{column}_token", python_hmac(F.col(column))).withColumn(
                f"{column}_token_key_version", F.lit(version)
            )
        df = df.drop(*MASKED_COLUMNS, "memo")
    return _spark_write(df, manifest, out)


def _mask_arrow(table: Any, key: bytes, version: int) -> Any:
    import pyarrow as pa

    for column in MASKED_COLUMNS:
        tokens = [_token(key, v) for v in table.column(column).to_pylist()]
        table = table.append_column(f"{column}_token", pa.array(tokens, pa.binary()))
        table = table.append_column(
            f"{column}_token_key_version", pa.array([version] * len(tokens), pa.int32())
        )
    return table.drop_columns(
        [*MASKED_COLUMNS, *(["memo"] if "memo" in table.column_names else [])]
    )


def _pandas_variant(out: Path) -> int:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sqlalchemy import create_engine, text

    from etl.extract.endpoint import source_endpoint

    key, version = _key()
    engine = create_engine(source_endpoint().sqlalchemy_url())
    out.mkdir(parents=True)
    rows = 0
    writer = None
    with engine.connect().execution_options(stream_results=True) as conn:
        for chunk in pd.read_sql(text("SELECT * FROM transactions"), conn, chunksize=100_000):
            table = _mask_arrow(pa.Table.from_pandas(chunk, preserve_index=False), key, version)
            if writer is None:
                writer = pq.ParquetWriter(
                    out / "transactions.parquet", table.schema, compression="zstd"
                )
            writer.write_table(table)
            rows += table.num_rows
    if writer is not None:
        writer.close()
    engine.dispose()
    return rows


def _dlt_variant(out: Path) -> int:
    import dlt
    from dlt.sources.sql_database import sql_table
    from sqlalchemy import create_engine

    from etl.extract.endpoint import source_endpoint

    key, version = _key()
    engine = create_engine(source_endpoint().sqlalchemy_url())
    source = sql_table(
        credentials=engine, table="transactions", backend="pyarrow", chunk_size=100_000
    )

    # A resource of its own: the source's column hints (card_id NOT NULL) would outlive
    # the columns masking replaces.
    @dlt.resource(name="transactions", write_disposition="replace")
    def masked() -> Any:
        for table in source:
            yield _mask_arrow(table, key, version)

    pipeline = dlt.pipeline(
        pipeline_name="cardlake_bench",
        pipelines_dir=str(out / "_dlt_pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=(out / "files").as_uri()),
        dataset_name="bench",
    )
    pipeline.run(masked(), loader_file_format="parquet")
    from etl.lake.store import Store

    return int(Store(out / "files" / "bench" / "transactions").parquet("").count_rows())


def _connectorx_variant(out: Path, phases: dict[str, float]) -> int:
    """ConnectorX reads the replica into Arrow over two connections (split on the primary
    key); the table is masked as pandas' and dlt's are; pyarrow writes zstd Parquet."""
    import connectorx as cx
    import pyarrow.parquet as pq

    from etl.extract.endpoint import source_endpoint

    key, version = _key()
    started = time.perf_counter()
    table = cx.read_sql(
        _mysql_uri(source_endpoint()),
        "SELECT * FROM transactions",
        partition_on="transaction_id",
        partition_num=2,
        return_type="arrow",
    )
    phases["read"] = time.perf_counter() - started
    table = _mask_arrow(table, key, version)
    phases["hmac"] = time.perf_counter() - started - phases["read"]
    out.mkdir(parents=True)
    pq.write_table(table, out / "transactions.parquet", compression="zstd")
    phases["write"] = time.perf_counter() - started - phases["read"] - phases["hmac"]
    return int(table.num_rows)


def _duckdb_with_mysql_extension(directory: Path) -> Any:
    """A DuckDB connection with the mysql extension installed from its wheel
    (duckdb-extension-mysql) into a private directory: DuckDB would otherwise download it.
    Installing is set-up, like the JVM's start; loading it is part of the variant."""
    import duckdb
    import duckdb_extension_mysql

    shipped = next(Path(duckdb_extension_mysql.__file__).parent.rglob("*.duckdb_extension"))
    connection = duckdb.connect(
        config={
            "extension_directory": str(directory),
            "autoinstall_known_extensions": False,
        }
    )
    connection.install_extension(str(shipped))
    return connection


def _duckdb_variant(connection: Any, out: Path) -> int:
    """One COPY statement: the mysql extension reads the replica, SQL computes each token as
    HMAC-SHA256 from sha256 and unhex (H(K^opad || H(K^ipad || digits))), DuckDB writes zstd
    Parquet with the columns the other masked peers write."""
    from etl.extract.endpoint import source_endpoint

    key, version = _key()
    endpoint = source_endpoint()
    connection.load_extension("mysql")
    # The extension's client library reads the password from MYSQL_PWD, and the pads are
    # bound parameters: neither is ever part of an SQL text.
    os.environ["MYSQL_PWD"] = endpoint.password
    connection.execute(
        f"ATTACH 'host={endpoint.host} port={endpoint.port} user={endpoint.user} "
        f"database={endpoint.database}' AS source (TYPE mysql, READ_ONLY)"
    )
    connection.execute(
        "CREATE TEMP TABLE pads AS SELECT ?::BLOB AS ipad, ?::BLOB AS opad", _hmac_pads(key)
    )
    tokens = ", ".join(
        f"unhex(sha256(opad || unhex(sha256(ipad || {c}::VARCHAR::BLOB)))) AS {c}_token, "
        f"{version}::INTEGER AS {c}_token_key_version"
        for c in MASKED_COLUMNS
    )
    out.mkdir(parents=True, exist_ok=True)
    target = out / "transactions.parquet"
    ((rows,),) = connection.execute(
        f"COPY (SELECT * EXCLUDE ({', '.join(MASKED_COLUMNS)}, memo, ipad, opad), {tokens} "
        f"FROM source.transactions, pads) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
    ).fetchall()
    return int(rows)


def _cli_variant(name: str, out: Path) -> dict[str, Any]:
    """A command-line tool, timed around its own process: once on one row, to estimate its
    start-up (process, connection, metadata), then on the table. Its time without start-up
    is the difference; CPU seconds are the tool's own (this wrapper's are not counted)."""
    from etl.extract.endpoint import source_endpoint

    endpoint = source_endpoint()
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="cardlake-bench-startup-") as scratch:
        if name == "mariadb client scan":
            client = shutil.which("mariadb") or shutil.which("mariadb", path="/usr/sbin:/usr/bin")
            if client is None:
                raise SystemExit("the mariadb client is not installed (make bootstrap)")
            command = [
                client,
                "--no-defaults",
                "--quick",
                f"--host={endpoint.host}",
                f"--port={endpoint.port}",
                f"--user={endpoint.user}",
                endpoint.database,
                "-e",
            ]
            env = {**os.environ, "MYSQL_PWD": endpoint.password}
            full = [*command, "select * from transactions"]
            trivial = [*command, "select * from transactions limit 1"]
        else:
            ingestr = shutil.which("ingestr", path=str(Path(sys.executable).parent))
            if ingestr is None:
                raise SystemExit("ingestr is not installed (pip install -e '.[bench]')")
            command = [ingestr, "ingest", "--source-table", "transactions", "--yes"]
            command += ["--dest-table", "transactions", "--progress", "log", "--no-load-timestamp"]
            # URIs through the environment, so the password is not in the process list.
            env = {**os.environ, "INGESTR_SOURCE_URI": _mysql_uri(endpoint)}
            full = [*command, "--dest-uri", f"parquet://{out / 'transactions.parquet'}"]
            trivial = [*command, "--sql-limit", "1"]
            trivial += ["--dest-uri", f"parquet://{Path(scratch) / 'one-row.parquet'}"]
        startup_seconds, startup_cpu = _timed_process(trivial, env)
        seconds, cpu = _timed_process(full, env)
    if name == "mariadb client scan":  # nothing written: the rows are the table's
        from devstack import stack

        ((rows,),) = stack.execute("replica", "etl", "SELECT COUNT(*) FROM transactions")
    else:
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(out / "transactions.parquet").metadata.num_rows
    return {
        "rows": int(rows),
        # On a tiny table the one-row run can take as long as the whole one.
        "seconds": max(seconds - startup_seconds, 0.001),
        "cpu_seconds": max(cpu - startup_cpu, 0.0),
        "seconds_with_startup": seconds,
        "cpu_seconds_with_startup": cpu,
        "cores": 1 if name == "mariadb client scan" else SPARK_CORES,
        "phases": {"start-up (one-row run)": startup_seconds},
    }


def _timed_process(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run of a command, output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


# --- the runner (parent process) ------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (state, ppid, ...), None once it has exited."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def _process_tree(root: int) -> list[int]:
    """A process and all its descendants (the JVM is a child; Python UDF workers its own)."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        fields = _stat_fields(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, []))
    return tree


def _tree_memory_kb(root: int, high_water: dict[int, int]) -> int:
    """Resident memory of a process and all its descendants; records each one's own peak
    (VmHWM) in high_water, by pid."""
    total = 0
    for pid in _process_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        rss, hwm = (re.search(rf"^{f}:\s+(\d+)", status, re.M) for f in ("VmRSS", "VmHWM"))
        total += int(rss.group(1)) if rss else 0
        if hwm:
            high_water[pid] = max(high_water.get(pid, 0), int(hwm.group(1)))
    return total


def _run_child(name: str, out: Path, env: dict[str, str]) -> dict[str, Any]:
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.run", "--variant", name, "--out", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    peak = 0
    high_water: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_memory_kb(child.pid, high_water))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = child.communicate()
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"variant {name!r} failed (exit {child.returncode})")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = peak / 1024
    # Each process's own peak is exact; their sum bounds the tree's peak from above (the
    # sampled peak can miss a spike shorter than 0.2 s).
    result["peak_rss_bound_mb"] = sum(high_water.values()) / 1024
    result["output_bytes"] = sum(f.stat().st_size for f in out.rglob("*.parquet"))
    return result


def _sample_tokens(out: Path) -> dict[int, tuple[bytes, bytes]]:
    import pyarrow.dataset as ds

    files = [f for f in out.rglob("*.parquet") if "_dlt_" not in str(f)]
    table = ds.dataset([str(f) for f in files], format="parquet").to_table(
        columns=["transaction_id", "card_id_token", "member_id_token"]
    )
    ids = table.column(0).to_pylist()
    cards, members = table.column(1).to_pylist(), table.column(2).to_pylist()
    return {
        int(i): (bytes(c), bytes(m))
        for i, c, m in zip(ids, cards, members, strict=True)
        if int(i) % (max(len(ids), SAMPLE) // SAMPLE) == 0
    }


def _reference_tokens(ids: set[int], key: bytes) -> dict[int, tuple[bytes, bytes]]:
    """Python's hmac over the replica's own key values: what every masked variant must write."""
    from devstack import stack

    rows = stack.execute(
        "replica",
        "etl",
        f"SELECT transaction_id, {', '.join(MASKED_COLUMNS)} FROM transactions "
        f"WHERE transaction_id IN ({', '.join(['%s'] * len(ids))})",
        tuple(sorted(ids)),
    )
    return {int(i): (_token(key, card), _token(key, member)) for i, card, member in rows}


def openssl_hmac_rate() -> float:
    """Single-core HMAC-SHA256 operations per second on 16-byte messages (OpenSSL)."""
    for command in (
        ["openssl", "speed", "-mac", "HMAC", "-macopt", "digest:SHA256"],
        ["openssl", "speed", "-hmac", "sha256"],
    ):
        result = subprocess.run(
            [*command, "-bytes", "16", "-seconds", "3", "-mr"],
            capture_output=True,
            text=True,
            check=False,
        )
        match = re.search(r"^\+F:\d+:[^:]+:([\d.]+)", result.stdout, re.M)
        if result.returncode == 0 and match:
            return float(match.group(1)) / 16
    raise SystemExit("openssl speed did not run")


def spark_tokenizer_rate(rows: int) -> float:
    """cardlake's Java UDF HMAC alone: rows/s per core over cached PAN-like strings."""
    import secrets

    from bench.common import timed
    from bench.masking import pan_strings
    from etl.spark import build_session
    from masking.jvm import jvm_masking
    from masking.keys import TokenKey

    spark = build_session("bench-tokenizer", master=f"local[{SPARK_CORES}]")
    pans = pan_strings(spark, rows)
    pans.count()
    from pyspark.sql import functions as F

    key = secrets.token_bytes(32)
    seconds = timed(
        lambda: (
            pans.select(jvm_masking(spark).token(F.col("pan"), TokenKey("pan", 1, key), "pan"))
            .write.format("noop")
            .mode("overwrite")
            .save()
        ),
        repeat=3,  # best of three, as OpenSSL's figure is a steady state
    )
    spark.stop()
    return rows / seconds / SPARK_CORES


def _prepare_source(rows: int, home: Path) -> int:
    """A seeded primary + replica with `rows` transactions under `home` (reused if it has them)."""
    import datetime as dt
    import math

    from devstack import seed, stack
    from devstack.localproc import free_port

    os.environ["CARDLAKE_HOME"] = str(home)
    # A pool that holds the table, as a production reader's memory does (Aurora gives the
    # buffer pool 3/4 of the instance's): with the dev stack's 256 MB and a 1.5 GB table,
    # 1% of changed rows spread over the table cost an incremental run ~16 s of random reads.
    # Capped at a quarter of the memory available now, for each of the two servers.
    available_mb = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    pool_mb = max(256, min(rows * 200 // 2**20, available_mb // 4))
    if stack.is_up():
        ((count, pool),) = stack.execute(
            "replica",
            "etl",
            "SELECT COUNT(*), @@innodb_buffer_pool_size / 1048576 FROM transactions",
        )
        if int(count) == rows and float(pool) >= pool_mb:
            print(f"reusing the bench source in {home} ({rows:,} transactions)", flush=True)
            return rows
        stack.down()
    stack.up(
        stack.stack_dir(),
        primary_port=free_port(),
        replica_port=free_port(),
        buffer_pool_mb=pool_mb,
    )
    members = math.ceil(min(rows, SEED_BASE_ROWS) / TRANSACTIONS_PER_MEMBER)
    started = time.perf_counter()
    counts, _ = seed.seed(
        stack.endpoint("primary", "app"), seed.SeedSpec(members, 120, 1, dt.date(2026, 6, 30))
    )
    base = counts["transactions"]
    have = base
    while have < rows:
        # Copies of the generated rows under new ids, to reach N without N rows in memory.
        take = min(base, rows - have)
        stack.execute(
            "primary",
            "app",
            f"INSERT INTO transactions SELECT transaction_id + {have}, card_id, member_id, txn_type, "
            "amount, currency, merchant_name, mcc, memo, transacted_at, created_at, updated_at "
            f"FROM transactions WHERE transaction_id <= {take}",
        )
        have += take
    if have > rows:
        stack.execute("primary", "app", f"DELETE FROM transactions WHERE transaction_id > {rows}")
    stack.wait_for_replica()
    print(f"seeded {rows:,} transactions in {time.perf_counter() - started:.0f}s", flush=True)
    return rows


def _bench_manifests(directory: Path) -> Path:
    """The shipped manifests, with transactions tokenizing card_id and member_id."""
    from etl.contracts.manifest import MANIFEST_DIR

    shutil.copytree(MANIFEST_DIR, directory)
    path = directory / "transactions.yaml"
    text = path.read_text()
    for column in MASKED_COLUMNS:
        text = text.replace(f"  {column}: key\n", f"  {column}: {{class: key, action: token}}\n")
    text = text.replace("  memo: free_text\n", "  memo: {class: free_text, action: drop}\n")
    # Clustering names the columns that become tokens here; the bench loads no warehouse.
    text = re.sub(r"(?m)^warehouse:.*\n", "", text)
    path.write_text(text)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="transactions in the source")
    parser.add_argument(
        "--home", type=Path, default=Path(".cardlake/bench"), help="bench source state"
    )
    parser.add_argument("--keep", action="store_true", help="leave the source running for reuse")
    parser.add_argument("--skip", action="append", default=[], help="a variant to leave out")
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of every variant; the table shows medians"
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS_DIR, help="where the table goes (Markdown, JSON)"
    )
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.out)))
        return
    from masking.keys import DocumentKeyProvider, new_key_document

    home = args.home.resolve()
    rows = _prepare_source(args.rows, home)
    from devstack import stack

    ((source_mib, pool_mib),) = stack.execute(
        "replica",
        "etl",
        "SELECT (data_length + index_length) / 1048576, @@innodb_buffer_pool_size / 1048576 "
        "FROM information_schema.tables "
        "WHERE table_schema = DATABASE() AND table_name = 'transactions'",
    )
    results: dict[str, dict[str, Any]] = {}
    keys = new_key_document(dev_only=True)  # generated for this run, never printed
    tokens: dict[str, dict[int, tuple[bytes, bytes]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="cardlake-bench-") as tmp:
            env = {
                **os.environ,
                "CARDLAKE_HOME": str(home),
                "CARDLAKE_KEY_PROVIDER": "env",
                "CARDLAKE_KEYS": json.dumps(keys),
                "CARDLAKE_MANIFEST_DIR": str(_bench_manifests(Path(tmp) / "manifests")),
                "PYSPARK_PYTHON": sys.executable,
            }
            runs: dict[str, list[dict[str, Any]]] = {}
            # Rounds interleave the variants, so a slow spell of the machine hits them all.
            for round_no in range(1, args.repeat + 1):
                for name in (v for v in VARIANTS if v not in args.skip):
                    out = Path(tmp) / re.sub(r"\W+", "_", name)
                    print(f"round {round_no}/{args.repeat}: {name} ...", flush=True)
                    run = _run_child(name, out, env)
                    runs.setdefault(name, []).append(run)
                    print(f"  {run['seconds']:.1f}s, {run['rows']:,} rows", flush=True)
                    if name not in UNTOKENIZED and name not in tokens:
                        tokens[name] = _sample_tokens(out)
                    shutil.rmtree(out)
            results = {name: _median_run(variant_runs) for name, variant_runs in runs.items()}
        sampled = set().union(*tokens.values()) if tokens else set()
        reference = (
            _reference_tokens(sampled, DocumentKeyProvider(keys, "bench").current("pii").material)
            if sampled
            else {}
        )
    finally:
        if not args.keep:
            stack.down()
    for name, sample in tokens.items():
        assert len(sample) > 0 and all(sample[i] == reference.get(i) for i in sample), (
            f"{name}: tokens differ from Python hmac"
        )
        results[name]["tokens_checked"] = len(sample)
    _report(
        rows, results, ReplicaSize(float(source_mib), float(pool_mib)), args.repeat, args.results
    )


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median time of a variant's runs, with their spread and the largest peak memory."""
    seconds = sorted(r["seconds"] for r in runs)
    medians = ("seconds_with_startup", "cpu_seconds", "cpu_seconds_with_startup")
    return {
        **runs[0],
        **{field: statistics.median(r[field] for r in runs) for field in medians},
        "phases": {p: statistics.median(r["phases"][p] for r in runs) for p in runs[0]["phases"]},
        "seconds": statistics.median(seconds),
        "spread": (seconds[0], seconds[-1]),
        "round_seconds": [r["seconds"] for r in runs],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "peak_rss_bound_mb": max(r["peak_rss_bound_mb"] for r in runs),
    }


def _cpu_over_copy(results: dict[str, dict[str, Any]], name: str) -> float:
    return float(results[name]["cpu_seconds"] - results["copy (unmasked)"]["cpu_seconds"])


def _masking_cpu_ratio(
    results: dict[str, dict[str, Any]], name: str, rows: int, openssl: float
) -> str:
    """What masking costs beyond the copy, in CPU seconds, over what OpenSSL needs on one
    core for the same HMACs (one per masked column and row)."""
    extra = _cpu_over_copy(results, name)
    hmacs = rows * len(MASKED_COLUMNS)
    return f"{extra / (hmacs / openssl):.1f}x ({extra:.1f} CPU-s for {hmacs:,} HMACs)"


class ReplicaSize(NamedTuple):
    table_mib: float  # the transactions table, InnoDB data + indexes
    pool_mib: float  # the replica's InnoDB buffer pool


def _report(
    rows: int,
    results: dict[str, dict[str, Any]],
    replica: ReplicaSize,
    repeat: int,
    directory: Path,
) -> None:
    job = results.get("cardlake job")
    table = []
    for name, r in results.items():
        rate = r["rows"] / r["seconds"]
        table.append(
            [
                name,
                f"{r['seconds']:.1f}",
                f"{r['spread'][0]:.1f}-{r['spread'][1]:.1f}",
                f"{r['cpu_seconds']:.1f}",
                f"{r['seconds_with_startup']:.1f}",
                f"{r['cpu_seconds_with_startup']:.1f}",
                f"{rate:,.0f}",
                f"{rate / r['cores']:,.0f}",
                r["cores"],
                f"{r['peak_rss_mb']:,.0f}",
                f"{r['output_bytes'] / 2**20:,.1f}",
                f"{r['seconds'] / job['seconds']:.2f}x" if job else "-",
                r.get("tokens_checked", "-"),
            ]
        )
    openssl = openssl_hmac_rate()
    # The Java UDF's rate needs a JVM of its own: only worth it when a Spark variant ran.
    tokenizer = (
        spark_tokenizer_rate(min(rows, 5_000_000)) if SPARK_VARIANTS & results.keys() else None
    )
    copy = results.get("copy (unmasked)", {}).get("seconds")
    masked = results.get("cardlake masking", {}).get("seconds")
    # Runs of one round are a minute apart: their ratios show how far the machine drifts.
    by_round = (
        ", ".join(
            f"{c / m:.0%}"
            for c, m in zip(
                results["copy (unmasked)"]["round_seconds"],
                results["cardlake masking"]["round_seconds"],
                strict=True,
            )
        )
        if copy and masked
        else ""
    )

    def job_seconds() -> float:
        return float(results["cardlake job"]["seconds"])

    def fastest_masked_peer() -> str:
        peers = {
            n: results[n]["seconds"]
            for n in ("ConnectorX + hmac", "DuckDB + SQL HMAC")
            if n in results
        }
        name = min(peers, key=peers.__getitem__)  # ValueError when neither ran
        return f"{job_seconds() / peers[name]:.2f}x ({name})"

    def connectorx_read_write() -> str:
        phases = results["ConnectorX + hmac"]["phases"]
        return f"{results['copy (unmasked)']['seconds'] / (phases['read'] + phases['write']):.2f}x"

    goals: dict[str, Callable[[], str]] = {
        "dlt + hmac time / cardlake job time (goal >= 3x)": lambda: (
            f"{results['dlt + hmac']['seconds'] / job_seconds():.2f}x"
        ),
        "pandas + hmac time / cardlake job time (goal >= 5x)": lambda: (
            f"{results['pandas + hmac']['seconds'] / job_seconds():.2f}x"
        ),
        "cardlake job time / fastest masked peer (goal: < 1 at 10M, <= 1.5x at 1M)": (
            fastest_masked_peer
        ),
        "unmasked copy time / ConnectorX read + write (goal at 10M: <= 1)": connectorx_read_write,
        "masked throughput / unmasked copy (goal >= 80%)": lambda: (
            f"{copy / masked:.0%} (round by round: {by_round})" if copy and masked else "n/a"
        ),
        "tokenizer per core / OpenSSL single core (goal >= 50%)": lambda: (
            f"{tokenizer / openssl:.0%}" if tokenizer else "n/a (no Spark variant ran)"
        ),
        "masking CPU-s over the copy / OpenSSL CPU-s for its HMACs (goal <= 2x)": lambda: (
            _masking_cpu_ratio(results, "cardlake masking", rows, openssl)
        ),
        "shipped manifest (memo redaction, no token): CPU-s over the copy": lambda: (
            f"{_cpu_over_copy(results, 'cardlake masking, shipped manifest'):.1f} CPU-s"
        ),
        "cardlake job seconds for these rows (goal: 10M in < 180 s)": lambda: (
            f"{job_seconds():.0f}"
        ),
    }
    notes: dict[str, Any] = {
        "rows": f"{rows:,} transactions from the replica to zstd Parquet",
        "runs per variant": f"{repeat}, interleaved; each a fresh process",
        "seconds": (
            "the variant's work, from its first source read to its last output byte: JVM "
            "start excluded, imports included; for a CLI tool, its run minus a one-row run"
        ),
        "with start-up": (
            "from the start of the variant's process (Python, the JVM); for a CLI tool, "
            "its whole run (process start, connection, metadata)"
        ),
        "CPU seconds": (
            "the variant's process, its Spark JVM and Python workers, or the CLI tool's "
            "process (not MariaDB's share)"
        ),
        "tokens checked": "sampled rows whose two tokens equal Python hmac over the replica's values",
        "source table on the replica (InnoDB data + indexes)": f"{replica.table_mib:,.0f} MiB",
        "replica's InnoDB buffer pool": f"{replica.pool_mib:,.0f} MiB",
        "Spark driver heap": (
            "1g (Spark's default; cardlake sets none), local[2]; ParallelGC with heap-free "
            "ratios 5-10% (etl/spark.py)"
        ),
        "OpenSSL HMAC-SHA256, 16-byte messages, one core": f"{openssl:,.0f} ops/s",
    }
    notes["peak RSS MB"] = (
        "MiB (VmRSS kB / 1024), the process tree's sum sampled every 0.2 s; an upper "
        "bound, the sum of each process's own peak (VmHWM, read at each sample): "
        + ", ".join(f"{n} {r['peak_rss_bound_mb']:,.0f}" for n, r in results.items())
    )
    if tokenizer:
        notes["cardlake Java UDF HMAC alone, per core"] = f"{tokenizer:,.0f} rows/s"
    for name, r in results.items():
        if r["phases"]:
            notes[f"{name} phases (median seconds)"] = ", ".join(
                f"{phase} {seconds:.1f}" for phase, seconds in r["phases"].items()
            )
    for label, value in goals.items():
        try:
            notes[label] = value()
        except (KeyError, ValueError):
            notes[label] = "n/a (variant skipped)"
    write_results(
        f"peers-{rows}",
        [
            "variant",
            "seconds (median)",
            "range of runs",
            "CPU seconds (median)",
            "seconds with start-up",
            "CPU seconds with start-up",
            "rows/s",
            "rows/s per core",
            "cores",
            "peak RSS MB",
            "output MiB",
            "time vs cardlake job",
            "tokens checked",
        ],
        table,
        notes,
        directory,
    )


if __name__ == "__main__":
    main()
