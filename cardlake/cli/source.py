"""`cardlake stack`, `seed`, `run` and `bookmarks`: the source side and the runs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from cardlake.cli.output import print_table, step
from cardlake.cli.params import iso_date, port, positive_int, utc_timestamp, whole_number
from devstack.localproc import DEFAULT_PRIMARY_PORT, DEFAULT_REPLICA_PORT
from etl.errors import CardlakeError

DEMO_MEMBERS, DEMO_DAYS, DEMO_SEED = 3000, 120, 42

stack_app = typer.Typer(help="The local MariaDB primary + read replica (loopback only).")
bookmarks_app = typer.Typer(help="Show, reset or rewind the incremental watermarks.")

Tables = Annotated[
    list[str] | None,
    typer.Option(
        "--table", metavar="TABLE", help="a source table (repeatable)", show_default=False
    ),
]


@stack_app.command("up")
def stack_up(
    primary_port: Annotated[
        int, typer.Option(parser=port, metavar="PORT", envvar="CARDLAKE_STACK_PRIMARY_PORT")
    ] = DEFAULT_PRIMARY_PORT,
    replica_port: Annotated[
        int, typer.Option(parser=port, metavar="PORT", envvar="CARDLAKE_STACK_REPLICA_PORT")
    ] = DEFAULT_REPLICA_PORT,
) -> None:
    """Start the primary and a replicating read replica in throwaway data dirs."""
    from devstack import stack

    state = stack.up(primary_port=primary_port, replica_port=replica_port)
    print(f"primary 127.0.0.1:{state['primary']['port']} (writes)")
    print(f"replica 127.0.0.1:{state['replica']['port']} (read-only, what the ETL reads)")


@stack_app.command("down")
def stack_down() -> None:
    """Stop both servers and delete their data."""
    from devstack import stack

    print("stopped" if stack.down() else "nothing was running")


@stack_app.command("status")
def stack_status() -> None:
    """Ports, replication state and lag."""
    from devstack import stack

    print_table(["item", "value"], stack.status())


def seed_source(spec: Any) -> dict[str, int]:
    """Replace the source data; its bookmarks no longer apply, so the next runs are full."""
    from devstack import seed, stack
    from etl.lake.bookmarks import BookmarkStore

    counts, seconds = seed.seed(stack.endpoint("primary", "app"), spec)
    step(f"{sum(counts.values()):,} rows written in {seconds:.1f}s; waiting for the replica")
    stack.wait_for_replica()
    store = BookmarkStore()
    for table in counts:
        store.delete(table)
    return counts


def seed_command(
    members: Annotated[
        int, typer.Option(parser=positive_int, metavar="N", envvar="CARDLAKE_SEED_MEMBERS")
    ] = DEMO_MEMBERS,
    days: Annotated[
        int, typer.Option(parser=positive_int, metavar="N", envvar="CARDLAKE_SEED_DAYS")
    ] = DEMO_DAYS,
    seed: Annotated[
        int, typer.Option(parser=whole_number, metavar="N", envvar="CARDLAKE_SEED_SEED")
    ] = DEMO_SEED,
    end_date: Annotated[
        dt.date | None,
        typer.Option(
            parser=iso_date,
            envvar="CARDLAKE_SEED_END_DATE",
            help="last day of the data; fix it for reproducible data",
            show_default="today (UTC)",
        ),
    ] = None,
) -> None:
    """Fill the primary with reproducible synthetic data (replaces what is there)."""
    from devstack.seed import SeedSpec

    spec = SeedSpec(members, days, seed, end_date or dt.datetime.now(dt.UTC).date())
    counts = seed_source(spec)
    print_table(["table", "rows"], sorted(counts.items()))
    print(f"seeded {sum(counts.values()):,} rows; replica caught up")


def run_tables(
    tables: list[str] | None, num_partitions: int, allow_primary: bool, full_refresh: bool
) -> list[Any]:
    from etl.contracts.manifest import in_extract_order, table_names

    chosen = in_extract_order(tables) if tables else table_names()
    # Refusals come cheapest first, each one line before Spark starts: an unknown table
    # (before the pipeline's imports), the lake, Java and the jars, then the source.
    _known_tables(chosen)

    from etl import pipeline
    from etl.gate.quality import preload_great_expectations
    from etl.resources import checked_source, configured_lake, run_context
    from etl.spark import build_session, session_jars

    lake = configured_lake()
    session_jars()
    source = checked_source(allow_primary)
    preload_great_expectations()  # while the JVM starts, not while the first table writes
    context = run_context(build_session("cardlake-run"), lake, report=step, source=source)
    options = pipeline.RunOptions(
        num_partitions=num_partitions, allow_primary=allow_primary, full_refresh=full_refresh
    )
    return pipeline.run_tables(context, chosen, options, on_table_done=print_table_run)


def print_table_run(run: Any) -> None:
    window = run.window
    lag = "" if window.replica_lag_s is None else f", replica lag {window.replica_lag_s}s"
    if window.replication != "running":
        lag += f", replication {window.replication}: window ends at what the replica applied"
    why = f" ({run.full_reason})" if run.full_reason else ""
    step(
        f"{run.table}: {run.kind}{why}, {run.rows_written:,} rows written, DQ "
        f"{run.quality.summary}, {run.rows_loaded:,} rows in the warehouse "
        f"({run.seconds:.1f}s{lag})"
    )
    if run.k_anonymity:
        step(f"  k-anonymity {run.k_anonymity.summary}")
    if run.unparsed_values:
        counts = ", ".join(f"{c}={n:,}" for c, n in sorted(run.unparsed_values.items()))
        step(f"  values the normalizers could not parse (tokenized as typed): {counts}")
    step(f"  reconciliation with the source: {run.reconciliation.summary}")


def run_command(
    table: Tables = None,
    all_tables: Annotated[
        bool, typer.Option("--all", help="every table with a manifest, parents first")
    ] = False,
    num_partitions: Annotated[
        int,
        typer.Option(
            parser=positive_int,
            metavar="N",
            envvar="CARDLAKE_RUN_NUM_PARTITIONS",
            help="parallel JDBC reads",
        ),
    ] = 4,
    allow_primary: Annotated[
        bool,
        typer.Option(
            envvar="CARDLAKE_RUN_ALLOW_PRIMARY", help="dev only: read a writable endpoint"
        ),
    ] = False,
    full_refresh: Annotated[
        bool,
        typer.Option(
            envvar="CARDLAKE_RUN_FULL_REFRESH",
            help="ignore the bookmarks: re-extract whole tables and replace them in BigQuery",
        ),
    ] = False,
) -> None:
    """Extract from the replica, mask, gate, write Parquet, load BigQuery, move bookmarks."""
    if not all_tables and not table:
        raise CardlakeError("name tables with --table T (repeatable) or pass --all")
    results = run_tables(None if all_tables else table, num_partitions, allow_primary, full_refresh)
    print_table(
        ["table", "run", "rows written", "DQ", "rows in warehouse", "seconds"],
        [
            (r.table, r.kind, r.rows_written, r.quality.summary, r.rows_loaded, f"{r.seconds:.1f}")
            for r in results
        ],
    )


def _known_tables(tables: list[str]) -> None:
    from etl.contracts.manifest import manifest_for

    for name in tables:
        manifest_for(name)


def _print_bookmarks(tables: list[str]) -> None:
    from etl.lake.bookmarks import BookmarkStore

    store = BookmarkStore()
    store.store.check_reachable()  # a missing bucket is an error, not an empty table
    rows = []
    for name in tables:
        mark = store.read(name)
        rows.append(
            (
                name,
                mark.watermark if mark else "(none: next run is full)",
                mark.run_id if mark else "",
            )
        )
    print_table(["table", "watermark (UTC)", "set by run"], rows)


@bookmarks_app.command("show")
def bookmarks_show(table: Tables = None) -> None:
    """Each table's watermark (default: every table with a bookmark)."""
    from etl.lake.bookmarks import BookmarkStore

    _known_tables(table or [])
    _print_bookmarks(table or BookmarkStore().tables())


@bookmarks_app.command("reset")
def bookmarks_reset(table: Tables = None) -> None:
    """Forget the tables' watermarks: their next run is a full refresh."""
    from etl.lake.bookmarks import BookmarkStore

    if not table:
        raise CardlakeError("reset needs --table T (repeatable): the next run is a full refresh")
    _known_tables(table)
    store = BookmarkStore()
    for name in table:
        store.delete(name)
    _print_bookmarks(table)


@bookmarks_app.command("rewind")
def bookmarks_rewind(
    table: Tables = None,
    to: Annotated[
        dt.datetime | None,
        typer.Option(
            parser=utc_timestamp,
            help="the new watermark, an ISO timestamp (UTC unless it names a zone)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Move watermarks back: the next run re-reads rows changed since then."""
    from etl.lake.bookmarks import Bookmark, BookmarkStore

    if not table or to is None:
        raise CardlakeError("rewind needs --table T and --to TIMESTAMP")
    _known_tables(table)
    store = BookmarkStore()
    for name in table:
        current = store.read(name)
        if current is None:
            raise CardlakeError(f"{name} has no bookmark: its next run is a full refresh")
        if to >= current.watermark_at:
            raise CardlakeError(f"--to must be before the current watermark {current.watermark}")
        store.write(
            Bookmark(
                name,
                current.cursor,
                to.isoformat(),
                "rewind",
                dt.datetime.now(dt.UTC).isoformat(),
                current.tokenization,
            )
        )
    _print_bookmarks(table)
