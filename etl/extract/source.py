"""The source: the read-replica endpoint, its guard, and parallel streaming JDBC reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pymysql
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from etl.contracts.manifest import TableManifest, check_source_columns
from etl.errors import CardlakeError
from etl.extract.endpoint import Endpoint

JDBC_DRIVER = "org.mariadb.jdbc.Driver"
STATEMENT_TIMEOUT_S = 900
LONG_MAX = 2**63 - 1


def connect(endpoint: Endpoint) -> pymysql.connections.Connection:
    """A read-only session with a statement timeout: every query the ETL runs on the source."""
    try:
        connection: pymysql.connections.Connection = endpoint.connect(
            connect_timeout=10,
            init_command=(
                f"SET SESSION tx_read_only = 1, SESSION max_statement_time = {STATEMENT_TIMEOUT_S}"
            ),
        )
    except pymysql.err.OperationalError as exc:
        raise CardlakeError(
            f"cannot connect to source {endpoint.display}: {exc.args[-1]}"
        ) from None
    return connection


@dataclass(frozen=True)
class KeyRange:
    low: int | None
    high: int | None


@dataclass(frozen=True)
class ExtractWindow:
    """Rows with lower <= cursor < upper. No lower bound: a full refresh.

    upper is the replica's clock minus its replication lag and a safety margin, so a run
    never claims rows the replica may not have applied yet; the next run starts at
    upper - lookback, which catches rows whose transactions committed late.
    """

    cursor: str | None
    lower: dt.datetime | None
    upper: dt.datetime | None
    replica_lag_s: int | None
    replication: str = "running"

    @property
    def full(self) -> bool:
        return self.lower is None

    def predicate(self) -> str:
        if self.cursor is None or self.upper is None:
            return "1 = 1"
        clauses = [f"`{self.cursor}` < '{sql_timestamp(self.upper)}'"]
        if self.lower is not None:
            clauses.append(f"`{self.cursor}` >= '{sql_timestamp(self.lower)}'")
        return " AND ".join(clauses)


def sql_timestamp(value: dt.datetime) -> str:
    """A naive UTC datetime as a SQL literal's text, to the microsecond."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def plan_window(
    endpoint: Endpoint,
    manifest: TableManifest,
    since: dt.datetime | None,
    lookback: dt.timedelta,
    safety: dt.timedelta,
) -> ExtractWindow:
    """The window of this run: since the bookmark (minus lookback), up to the safe upper bound.

    The upper bound is the replica clock minus lag and safety margin, and never beyond the
    newest cursor the replica holds: when replication is paused (lag unknown), the window
    stops at what was applied, and the rows written meanwhile arrive once it resumes.
    """
    with connect(endpoint) as conn, conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("SELECT UTC_TIMESTAMP(6) AS now")
        row = cur.fetchone()
        cur.execute("SHOW SLAVE STATUS")
        replication = cur.fetchone()
        newest = None
        if manifest.cursor is not None:
            cur.execute(f"SELECT MAX(`{manifest.cursor}`) AS newest FROM `{manifest.table}`")
            newest = (cur.fetchone() or {}).get("newest")
    assert row is not None
    lag, state = None, "not a binlog replica"
    if replication:
        threads = (replication["Slave_IO_Running"], replication["Slave_SQL_Running"])
        state = {("Yes", "Yes"): "running", ("No", "No"): "stopped"}.get(
            threads, "SQL thread stopped" if threads[1] != "Yes" else "IO thread stopped"
        )
        if replication["Seconds_Behind_Master"] is not None:
            lag = int(replication["Seconds_Behind_Master"])
    if manifest.cursor is None:
        return ExtractWindow(None, None, None, lag, state)
    upper = row["now"] - dt.timedelta(seconds=lag or 0) - safety
    if newest is not None:
        upper = min(upper, newest + dt.timedelta(microseconds=1))
    lower = None if since is None else min(since - lookback, upper)
    return ExtractWindow(manifest.cursor, lower, upper, lag, state)


@dataclass(frozen=True)
class WindowProfile:
    rows: int
    keys: KeyRange  # of the first primary-key column: the strides of the parallel read
    # Date columns the read turns into NULL where they hold MySQL zero dates, in table order:
    # column -> zero dates counted on the source, or None where the snapshot counts them.
    zero_dates_on_source: dict[str, int | None]
    # Columns written as read: their NULLs on the source. Each NULL the snapshot has beyond
    # these is a zero date, so the scan need not evaluate every row's date (about 0.2 s
    # per column and 1M rows on the replica).
    nulls_before_read: dict[str, int]

    def zero_dates(self, nulls_written: dict[str, int]) -> dict[str, int]:
        """Zero dates per date column that has any, given the written snapshot's NULLs."""
        counts = {
            column: on_source
            if on_source is not None
            else nulls_written[column] - self.nulls_before_read[column]
            for column, on_source in self.zero_dates_on_source.items()
        }
        return {column: n for column, n in counts.items() if n}


def _written_as_read(manifest: TableManifest, column: str) -> bool:
    """A column the snapshot holds with the values the read returned (NULLs included).

    Kept quasi-identifiers are not: k-anonymity suppression may blank them.
    """
    policy = manifest.columns[column]
    return policy.action == "keep" and policy.klass != "quasi_identifier"


def profile_window(
    endpoint: Endpoint,
    manifest: TableManifest,
    window: ExtractWindow,
    columns: dict[str, SourceColumn],
) -> WindowProfile:
    """The window's rows, key range and what it takes to count its zero dates: one scan.

    A zero date is a value the read turns into NULL (it has no epoch number): all-zero
    dates and those with a zero month or day, which lax SQL modes let in. For a date
    column written as read, the scan counts its NULLs (none to count if NOT NULL); for
    any other date column it counts the zero dates with the read's own expression.
    """
    dates = [
        name
        for name, column in columns.items()
        if _base_type(column) in EPOCH_READS and name in manifest.selected_columns
    ]
    on_snapshot = [c for c in dates if _written_as_read(manifest, c)]
    on_source = [c for c in dates if c not in on_snapshot]
    nullable = [c for c in on_snapshot if columns[c].nullable]
    key = manifest.primary_key[0]
    zero_sums = [
        f"COALESCE(SUM(`{c}` IS NOT NULL AND {_epoch_number(c, columns[c])} IS NULL), 0)"
        for c in on_source
    ]
    null_counts = [f"COUNT(*) - COUNT(`{c}`)" for c in nullable]
    aggregates = ["COUNT(*)", f"MIN(`{key}`)", f"MAX(`{key}`)", *zero_sums, *null_counts]
    with connect(endpoint) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(aggregates)} FROM `{manifest.table}` WHERE {window.predicate()}"
        )
        row = cur.fetchone()
    assert row is not None
    keys = KeyRange(*(None if bound is None else int(bound) for bound in row[1:3]))
    counted = dict(zip(on_source + nullable, (int(n) for n in row[3:]), strict=True))
    return WindowProfile(
        int(row[0]),
        keys,
        {c: counted[c] if c in on_source else None for c in dates},
        {c: counted.get(c, 0) for c in on_snapshot},
    )


ER_SPECIFIC_ACCESS_DENIED = 1227


def guard_replica(endpoint: Endpoint, allow_primary: bool = False) -> None:
    """Refuse a writable endpoint (never load the primary) and a replica that stopped applying."""
    with connect(endpoint) as conn, conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("SELECT @@global.read_only AS ro, @@global.innodb_read_only AS innodb_ro")
        flags = cur.fetchone()
        # Binlog replicas report their threads here; Aurora readers return no row, and a
        # least-privilege login without REPLICA MONITOR may not ask (error 1227): the
        # read-only check above is what keeps the primary out.
        try:
            cur.execute("SHOW SLAVE STATUS")
            replication = cur.fetchone()
        except pymysql.err.OperationalError as exc:
            if exc.args[0] != ER_SPECIFIC_ACCESS_DENIED:
                raise
            replication = None
    assert flags is not None
    # A paused replica is fine (the window stops at what it applied); a broken one is not.
    # Its error text is not repeated: it can quote key values of the failed row.
    if replication and (replication["Last_IO_Errno"] or replication["Last_SQL_Errno"]):
        raise CardlakeError(
            f"replica {endpoint.display} has a replication error (IO error "
            f"{replication['Last_IO_Errno']}, SQL error {replication['Last_SQL_Errno']}); "
            "nothing was read. See SHOW SLAVE STATUS on the replica, repair it and rerun"
        )
    if not (int(flags["ro"]) or int(flags["innodb_ro"])) and not allow_primary:
        raise CardlakeError(
            f"refusing to read {endpoint.display}: it is writable (read_only=0), so it is a "
            "primary, not a read replica. Point CARDLAKE_SOURCE_HOST at the replica endpoint "
            "(or pass --allow-primary for a dev database; the run record notes it)"
        )


@dataclass(frozen=True)
class SourceColumn:
    nullable: bool
    column_type: str  # as information_schema spells it, e.g. "bigint(20) unsigned"


def source_columns(endpoint: Endpoint, table: str) -> dict[str, SourceColumn]:
    """Column name -> nullability and type, in table order."""
    with connect(endpoint) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT column_name, is_nullable, column_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (endpoint.database, table),
        )
        columns = {
            str(name): SourceColumn(nullable == "YES", str(column_type))
            for name, nullable, column_type in cur.fetchall()
        }
    if not columns:
        raise CardlakeError(f"table {endpoint.database}.{table} not found on {endpoint.display}")
    return columns


def jdbc_url(endpoint: Endpoint) -> str:
    # jdbc:mysql (not jdbc:mariadb) so Spark picks its MySQL dialect and quotes with
    # backticks; with jdbc:mariadb it double-quotes names and gets them back as values.
    # useServerPrepStmts: rows come in the binary protocol, which the driver decodes ~13%
    # faster than text (numbers and datetimes are not parsed from strings; bench/run.py).
    session = f"time_zone='+00:00',max_statement_time={STATEMENT_TIMEOUT_S}"
    return (
        f"jdbc:mysql://{endpoint.host}:{endpoint.port}/{endpoint.database}"
        f"?permitMysqlScheme&sessionVariables={session}&useCursorFetch=false"
        "&zeroDateTimeBehavior=convertToNull&useServerPrepStmts=true"
    )


@dataclass(frozen=True, kw_only=True)
class ReadPlan:
    """What one read covers and how it is split into parallel JDBC connections."""

    window: ExtractWindow
    columns: dict[str, SourceColumn]
    keys: KeyRange  # the window's primary-key range, from its profile
    num_partitions: int = 4
    fetch_size: int = 10_000


def extract_table(
    spark: SparkSession, endpoint: Endpoint, manifest: TableManifest, plan: ReadPlan
) -> DataFrame:
    """Read the manifest's selected columns of the window in parallel key ranges.

    The fail-closed classification and dialect checks run first, before any row is read.
    """
    window, columns, keys = plan.window, plan.columns, plan.keys
    check_source_columns(manifest, list(columns))
    url = jdbc_url(endpoint)
    check_jdbc_dialect(spark, url)
    selected = ", ".join(_select_item(c, columns[c]) for c in manifest.selected_columns)
    reader = (
        spark.read.format("jdbc")
        .option("url", url)
        .option("driver", JDBC_DRIVER)
        .option("user", endpoint.user)
        .option("password", endpoint.password)
        .option(
            "dbtable",
            f"(SELECT {selected} FROM `{manifest.table}` WHERE {window.predicate()}) AS src",
        )
        .option("fetchsize", str(plan.fetch_size))
        .option("queryTimeout", str(STATEMENT_TIMEOUT_S))
    )
    key = manifest.primary_key[0]
    if len(manifest.primary_key) == 1 and keys.low is not None and keys.high is not None:
        # Spark's bounds are Longs; they only set the strides (the first and last partitions
        # are open-ended), so clamping keeps BIGINT UNSIGNED keys above 2^63 in the read.
        low, high = min(keys.low, LONG_MAX - 1), min(keys.high + 1, LONG_MAX)
        reader = (
            reader.option("partitionColumn", key)
            .option("lowerBound", str(low))
            .option("upperBound", str(high))
            .option("numPartitions", str(max(1, min(plan.num_partitions, high - low))))
        )
    return with_temporal_types(reader.load(), columns)


# Connector/J builds a java.util.Calendar for every DATE, DATETIME and TIMESTAMP value it
# returns (~40% of the read's CPU for the three datetimes of a transaction row), and its
# hybrid Julian calendar moves days the Gregorian switch skipped (1582-10-10 came back as
# 10-20). The server sends integers since the epoch instead, proleptic Gregorian as Spark
# counts, exact to the microsecond; zero dates, which have no such number, arrive as NULL.
EPOCH_MICROS = "TIMESTAMPDIFF(MICROSECOND, TIMESTAMP'1970-01-01 00:00:00', `{0}`)"
EPOCH_DAYS = "DATEDIFF(`{0}`, DATE'1970-01-01')"
# Source type -> what the server sends for it, and how Spark turns that back.
EPOCH_READS: dict[str, tuple[str, Callable[[Column], Column]]] = {
    "datetime": (EPOCH_MICROS, F.timestamp_micros),
    "timestamp": (EPOCH_MICROS, F.timestamp_micros),
    "date": (EPOCH_DAYS, F.date_from_unix_date),
}


def _base_type(column: SourceColumn) -> str:
    return column.column_type.split("(")[0]


def _epoch_number(name: str, column: SourceColumn) -> str | None:
    read = EPOCH_READS.get(_base_type(column))
    return None if read is None else read[0].format(name)


def _select_item(name: str, column: SourceColumn) -> str:
    number = _epoch_number(name, column)
    return f"`{name}`" if number is None else f"{number} AS `{name}`"


def with_temporal_types(df: DataFrame, columns: dict[str, SourceColumn]) -> DataFrame:
    """Epoch numbers read for temporal columns back to Spark timestamps and dates."""

    def restored(name: str) -> Column:
        read = EPOCH_READS.get(_base_type(columns[name]))
        return F.col(name) if read is None else read[1](F.col(name)).alias(name)

    return df.select(*(restored(name) for name in df.columns))


def check_jdbc_dialect(spark: SparkSession, url: str) -> None:
    """Refuse a URL that Spark would not read with its MySQL dialect, before any row is read.

    Under any other dialect Spark double-quotes column names, which MariaDB reads as string
    literals: every row would come back holding the column names as values.
    """
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    dialect = jvm.org.apache.spark.sql.jdbc.JdbcDialects.get(url).getClass().getSimpleName()
    if not dialect.startswith("MySQLDialect"):
        raise CardlakeError(
            f"JDBC dialect check failed: Spark would read {url.split('?')[0]} with "
            f"{dialect}, which returns column names as values; use a jdbc:mysql:// URL with "
            "the MariaDB driver"
        )
