"""The `cardlake` command line."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from etl.errors import EXIT_ERROR, CardlakeError, Finding, run_reporting_errors

DEMO_MEMBERS, DEMO_DAYS, DEMO_SEED = 3000, 120, 42


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [
        ["NULL" if v is None else str(v) for v in r] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


class Progress:
    """One line per stage: `[2/7] seed the primary ... done (3.1s)`."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    @contextlib.contextmanager
    def stage(self, title: str) -> Iterator[None]:
        self.done += 1
        print(f"[{self.done}/{self.total}] {title} ...", flush=True)
        started = time.perf_counter()
        yield
        print(f"      done ({time.perf_counter() - started:.1f}s)", flush=True)


def cmd_stack(args: argparse.Namespace) -> None:
    from devstack import stack

    if args.action == "up":
        state = stack.up(primary_port=args.primary_port, replica_port=args.replica_port)
        print(f"primary 127.0.0.1:{state['primary']['port']} (writes)")
        print(f"replica 127.0.0.1:{state['replica']['port']} (read-only, what the ETL reads)")
    elif args.action == "down":
        print("stopped" if stack.down() else "nothing was running")
    else:
        print(format_table(["item", "value"], stack.status()))


def _seed_source(spec: Any) -> tuple[dict[str, int], float]:
    """Replace the source data; its bookmarks no longer apply, so the next runs are full."""
    from devstack import seed, stack
    from etl.lake.bookmarks import BookmarkStore

    counts, seconds = seed.seed(stack.endpoint("primary", "app"), spec)
    stack.wait_for_replica()
    store = BookmarkStore()
    for table in counts:
        store.delete(table)
    return counts, seconds


def cmd_seed(args: argparse.Namespace) -> None:
    from devstack import seed

    spec = seed.SeedSpec(args.members, args.days, args.seed, args.end_date)
    counts, seconds = _seed_source(spec)
    total = sum(counts.values())
    print(format_table(["table", "rows"], sorted(counts.items())))
    print(
        f"seeded {total:,} rows in {seconds:.1f}s ({total / seconds:,.0f} rows/s); replica caught up"
    )


def _run(
    tables: list[str] | None, num_partitions: int, allow_primary: bool, full_refresh: bool = False
) -> list[Any]:
    from etl import pipeline
    from etl.contracts.manifest import in_extract_order, manifest_for, table_names
    from etl.resources import run_context
    from etl.spark import build_session

    chosen = in_extract_order(tables) if tables else table_names()
    for table in chosen:
        manifest_for(table)  # an unknown table is one line, before Spark starts
    context = run_context(build_session("cardlake-run"))
    options = pipeline.RunOptions(
        num_partitions=num_partitions, allow_primary=allow_primary, full_refresh=full_refresh
    )
    return pipeline.run_tables(context, chosen, options, on_table_done=_print_table_run)


def _print_table_run(run: Any) -> None:
    window = run.window
    lag = "" if window.replica_lag_s is None else f", replica lag {window.replica_lag_s}s"
    if window.replication != "running":
        lag += f", replication {window.replication}: window ends at what the replica applied"
    why = f" ({run.full_reason})" if run.full_reason else ""
    print(
        f"  {run.table}: {run.kind}{why}, {run.rows_written:,} rows written, DQ {run.quality.summary}, "
        f"{run.rows_loaded:,} rows in the warehouse ({run.seconds:.1f}s{lag})",
        flush=True,
    )
    if run.k_anonymity:
        print(f"    k-anonymity {run.k_anonymity.summary}", flush=True)
    if run.unparsed_values:
        counts = ", ".join(f"{c}={n:,}" for c, n in sorted(run.unparsed_values.items()))
        print(f"    values the normalizers could not parse (tokenized as typed): {counts}")
    print(f"    reconciliation with the source: {run.reconciliation.summary}", flush=True)


def cmd_run(args: argparse.Namespace) -> None:
    if not args.all and not args.table:
        raise CardlakeError("name tables with --table T (repeatable) or pass --all")
    results = _run(
        None if args.all else args.table, args.num_partitions, args.allow_primary, args.full_refresh
    )
    print(
        format_table(
            ["table", "run", "rows written", "DQ", "rows in warehouse", "seconds"],
            [
                (
                    r.table,
                    r.kind,
                    r.rows_written,
                    r.quality.summary,
                    r.rows_loaded,
                    f"{r.seconds:.1f}",
                )
                for r in results
            ],
        )
    )


def cmd_bookmarks(args: argparse.Namespace) -> None:
    from etl.lake.bookmarks import Bookmark, BookmarkStore

    store = BookmarkStore()
    tables = args.table or store.tables()
    if args.action == "reset":
        if not args.table:
            raise CardlakeError(
                "reset needs --table T (repeatable): the next run is a full refresh"
            )
        for table in tables:
            store.delete(table)
    elif args.action == "rewind":
        if not args.table or args.to is None:
            raise CardlakeError("rewind needs --table T and --to TIMESTAMP")
        for table in tables:
            current = store.read(table)
            if current is None:
                raise CardlakeError(f"{table} has no bookmark: its next run is a full refresh")
            if args.to >= current.watermark_at:
                raise CardlakeError(
                    f"--to must be before the current watermark {current.watermark}"
                )
            store.write(
                Bookmark(
                    table,
                    current.cursor,
                    args.to.isoformat(),
                    "rewind",
                    dt.datetime.now(dt.UTC).isoformat(),
                    current.tokenization,
                )
            )
    rows = []
    for table in tables:
        mark = store.read(table)
        rows.append(
            (
                table,
                mark.watermark if mark else "(none: next run is full)",
                mark.run_id if mark else "",
            )
        )
    print(format_table(["table", "watermark (UTC)", "set by run"], rows))


def cmd_warehouse(args: argparse.Namespace) -> None:
    from devstack import emulator
    from etl.load import warehouse
    from etl.settings import warehouse_settings
    from etl.views import deploy as views

    settings = warehouse_settings()
    if args.action == "up":
        if not settings.use_emulator:
            raise CardlakeError("CARDLAKE_BQ_PROJECT is set: the warehouse is real BigQuery")
        print(f"BigQuery emulator on http://127.0.0.1:{emulator.up(port=args.port)}")
    elif args.action == "down":
        print("stopped" if emulator.down() else "nothing was running")
    elif args.action == "deploy":
        for view in views.deploy_views(warehouse.client(settings), settings, only=args.view):
            print(f"deployed {view}")
    elif args.action == "dry-run":
        if settings.use_emulator:
            print(
                "skipped: the local emulator cannot estimate bytes scanned. Set "
                "CARDLAKE_BQ_PROJECT to dry-run the views against real BigQuery"
            )
            return
        estimates = views.dry_run_views(warehouse.client(settings), settings, only=args.view)
        print(
            format_table(
                ["view", "bytes scanned", "GiB"],
                [
                    (e.view, f"{e.bytes_processed:,}", f"{e.bytes_processed / 2**30:.3f}")
                    for e in estimates
                ],
            )
        )
    else:
        _test_views(settings)


def _test_views(settings: Any) -> None:
    from devstack import source_schema
    from etl.load import warehouse
    from etl.views import fixtures as sql_fixtures

    bq = warehouse.client(settings)
    failed = []
    for fixture in sql_fixtures.load_fixtures():
        for check in sql_fixtures.run_fixture(bq, settings, fixture, source_schema.source_types):
            print(f"  {'ok  ' if check.passed else 'FAIL'} {fixture.name}: {check.view}")
            if not check.passed:
                failed.append(check)
    for check in failed:
        print(check.describe())
    if failed:
        raise Finding(f"{len(failed)} view check(s) failed")


def cmd_query(args: argparse.Namespace) -> None:
    import csv
    import json

    from etl.load import warehouse

    page = warehouse.query_page(warehouse.client(), args.sql, args.max_rows, args.max_bytes)
    rows = [[plain_value(v) for v in row] for row in page.rows]
    if args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(page.names)
        writer.writerows(rows)
    elif args.format == "json":
        for row in rows:
            print(json.dumps(dict(zip(page.names, row, strict=True)), ensure_ascii=False))
    else:
        print(format_table(page.names, rows))
    if page.total_rows > len(rows):
        more = f"... {page.total_rows - len(rows):,} more rows (raise --max-rows to see them)"
        print(more, file=sys.stderr if args.format != "table" else sys.stdout)


def plain_value(value: Any) -> Any:
    """A value as a reader expects it: integral NUMERICs (ids, yen) print as integers,
    dates and times in ISO form, bytes (tokens) as hex."""
    import decimal

    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value.normalize())
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return value


def cmd_dashboards(args: argparse.Namespace) -> None:
    from etl.settings import state_dir, warehouse_settings

    settings = warehouse_settings()
    out = args.out or state_dir() / "dashboards"
    if args.action == "build":
        from dashboards.build import build_all

        for path in build_all(out, settings):
            print(f"built {path}")
    elif args.action == "links":
        from dashboards.looker import linking_url, template_report_id
        from dashboards.spec import load_dashboards

        for dashboard in load_dashboards():
            template = template_report_id(dashboard) or "none: a blank report"
            print(f"{dashboard.title} (template {template})\n  {linking_url(dashboard, settings)}")
    else:
        _serve(out, args.port)


def _serve(directory: Path, port: int) -> None:
    import functools
    import http.server

    if not (directory / "index.html").exists():
        raise CardlakeError(f"nothing built in {directory}: run `cardlake dashboards build` first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"serving {directory} on http://127.0.0.1:{server.server_port}/ (Ctrl-C stops)")
        server.serve_forever()


def cmd_scan(args: argparse.Namespace) -> None:
    from etl.lake.snapshot import current_snapshots
    from etl.settings import lake_dir

    missing = [str(p) for p in args.path if not p.exists()]
    if missing:
        raise CardlakeError(f"nothing to scan at {', '.join(missing)}: no such file or directory")
    # Every run the published snapshots are made of, not only their newest.
    published = [
        str(Path(s.path).parent / run)
        for s in current_snapshots(lake_dir())
        for run in s.base_runs or (s.run_id,)
    ]
    paths = [str(p) for p in args.path] or published
    if not paths:
        raise CardlakeError(f"nothing to scan: no published snapshot under {lake_dir()}")
    _scan(paths)


def _scan(paths: list[str]) -> None:
    """Print per-dataset counts of rows holding a Luhn-valid PAN; any hit is an error."""
    from etl.spark import build_session
    from masking.freetext import count_pans

    spark = build_session("cardlake-scan")
    rows, total = [], 0
    for path in paths:
        try:
            frame = spark.read.option("recursiveFileLookup", "true").parquet(path)
        except Exception:  # Spark's analysis errors: no Parquet there, or not Parquet
            raise CardlakeError(
                f"cannot read {path} as Parquet (no Parquet files there?)"
            ) from None
        counts = count_pans(frame)
        hits = sum(counts.values())
        total += hits
        rows.append((path, len(counts), hits))
    print(format_table(["parquet dataset", "string columns", "rows with a PAN"], rows))
    if total:
        raise Finding(f"{total} row(s) with a Luhn-valid PAN found (counts only shown)")
    print(f"no Luhn-valid PAN in {len(paths)} Parquet datasets")


def cmd_keys(args: argparse.Namespace) -> None:
    from masking import keys

    if os.environ.get("CARDLAKE_KEY_PROVIDER", "file") != "file":
        raise CardlakeError(
            "keys are managed in the configured secret store; `cardlake keys` edits the "
            "local dev key file only"
        )
    path = keys.local_key_file()
    document = keys.load_or_create_key_file(path)
    if args.action in {"rotate", "retire"} and args.name is None:
        raise CardlakeError(f"keys {args.action} needs --name pan or --name pii")
    if args.action == "rotate":
        version = keys.rotate(document, args.name)
        keys.save_key_file(path, document)
        print(
            f"{args.name} is now v{version}: the next run of each table whose tokens use it "
            "re-tokenizes every row from the source (`cardlake run --all`)"
        )
    elif args.action == "retire":
        if args.version is None:
            raise CardlakeError("retire needs --version N")
        from etl.key_usage import check_unused
        from etl.settings import lake_dir, warehouse_settings

        keys.check_retirable(document, args.name, args.version)
        check_unused(args.name, args.version, lake_dir(), warehouse_settings())
        keys.retire(document, args.name, args.version)
        keys.save_key_file(path, document)
        print(f"{args.name} v{args.version} retired (material deleted)")
    print(format_table(["key", "current", "versions"], keys.describe(document)))
    if document.get("dev_only"):
        print(f"{path} is a dev-only key file: production keys live in a secret store")


def cmd_demo(args: argparse.Namespace) -> None:
    from dashboards.build import build_all
    from devstack import emulator, seed, stack
    from etl.load import warehouse
    from etl.settings import lake_dir, state_dir, warehouse_settings
    from etl.views import deploy as views

    progress = Progress(7)
    with progress.stage("start the MariaDB primary + read replica"):
        if stack.is_up():
            print("      (already running, reused)")
        else:
            stack.down()
            stack.up()
    with progress.stage("start the local BigQuery emulator"):
        if warehouse_settings().use_emulator:
            emulator.up()
    settings = warehouse_settings()
    with progress.stage(f"seed {args.members:,} members over {args.days} days on the primary"):
        spec = seed.SeedSpec(args.members, args.days, args.seed, dt.datetime.now(dt.UTC).date())
        counts, _ = _seed_source(spec)
        print(f"      {sum(counts.values()):,} rows, replica caught up")
    with progress.stage(
        "extract from the replica, mask, write Parquet, load BigQuery (all tables)"
    ):
        results = _run(None, 4, False)
    with progress.stage("scan every published Parquet snapshot for PANs (counts only)"):
        _scan([r.snapshot.path for r in results])
    with progress.stage("deploy the KPI views"):
        deployed = views.deploy_views(warehouse.client(settings), settings)
    with progress.stage("build the dashboards"):
        pages = build_all(state_dir() / "dashboards", settings)
    print()
    print(
        format_table(
            ["table", "rows in warehouse"], [(r.table, f"{r.rows_loaded:,}") for r in results]
        )
    )
    print(f"""
Source      primary {stack.endpoint("primary", "app").display} (writes)
            replica {stack.endpoint("replica", "etl").display} (the only endpoint the ETL reads)
Parquet     {lake_dir()}/<table>/CURRENT.json points at the published run
Warehouse   {"BigQuery emulator " + emulator.endpoint_url() if settings.use_emulator else "BigQuery"} project {settings.project}
Views       {len(deployed)} views in {settings.project}: {settings.stg_dataset}, {settings.mart_dataset}
Dashboards  {pages[0]} (open it in a browser; works offline)

Try:  .venv/bin/cardlake query "select * from \\`{settings.project}.{settings.mart_dataset}.kpi_daily_gmv\\` order by 1 desc limit 7"
Stop: .venv/bin/cardlake stack down && .venv/bin/cardlake warehouse down""")


def _utc_timestamp(text: str) -> dt.datetime:
    """A naive UTC timestamp, like the source's DATETIME(6) columns and the watermarks."""
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one `cardlake: error:` line and exit 2, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"cardlake: error: {message} (see `{self.prog} --help`)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def build_parser() -> argparse.ArgumentParser:
    from devstack.stack import DEFAULT_PRIMARY_PORT, DEFAULT_REPLICA_PORT
    from etl.load.warehouse import DEFAULT_MAX_BYTES_BILLED

    parser = _Parser(prog="cardlake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("stack", help="local MariaDB primary + read replica")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--primary-port", type=_positive_int, default=DEFAULT_PRIMARY_PORT)
    p.add_argument("--replica-port", type=_positive_int, default=DEFAULT_REPLICA_PORT)
    p.set_defaults(func=cmd_stack)

    p = sub.add_parser("seed", help="fill the primary with reproducible synthetic data")
    p.add_argument("--members", type=_positive_int, default=DEMO_MEMBERS)
    p.add_argument("--days", type=_positive_int, default=DEMO_DAYS)
    p.add_argument("--seed", type=int, default=DEMO_SEED)
    p.add_argument(
        "--end-date",
        type=dt.date.fromisoformat,
        default=dt.datetime.now(dt.UTC).date(),
        help="last day of the data (default: today, UTC); fix it for reproducible data",
    )
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("run", help="extract, mask, write Parquet and load BigQuery")
    p.add_argument("--table", action="append", help="a source table (repeatable)")
    p.add_argument("--all", action="store_true", help="every table, in dependency order")
    p.add_argument(
        "--num-partitions", type=_positive_int, default=4, help="parallel JDBC connections"
    )
    p.add_argument(
        "--allow-primary", action="store_true", help="dev only: read a writable endpoint"
    )
    p.add_argument(
        "--full-refresh",
        action="store_true",
        help="ignore the bookmarks: re-extract whole tables and replace them in the warehouse",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("bookmarks", help="show, reset or rewind the incremental watermarks")
    p.add_argument("action", choices=["show", "reset", "rewind"])
    p.add_argument("--table", action="append", help="a source table (repeatable)")
    p.add_argument(
        "--to",
        type=_utc_timestamp,
        help="rewind: the new watermark, an ISO timestamp (UTC unless it names a zone)",
    )
    p.set_defaults(func=cmd_bookmarks)

    p = sub.add_parser("warehouse", help="local BigQuery emulator and view deployment")
    p.add_argument(
        "action",
        choices=["up", "down", "deploy", "dry-run", "test"],
        help="deploy: create or replace the views; dry-run: bytes each view would scan (real "
        "BigQuery only); test: run the SQL fixture tests in warehouse_sql/tests",
    )
    p.add_argument("--port", type=int, default=19050)
    p.add_argument(
        "--view", action="append", help="deploy/dry-run this view and what it reads (repeatable)"
    )
    p.set_defaults(func=cmd_warehouse)

    p = sub.add_parser("query", help="run SQL on the configured warehouse and print a table")
    p.add_argument("sql")
    p.add_argument(
        "--max-rows",
        type=_positive_int,
        default=50,
        help="rows fetched from the server (default 50)",
    )
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument(
        "--max-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_BYTES_BILLED,
        help="fail a query that would bill more bytes (real BigQuery; default 10 GiB)",
    )
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("dashboards", help="build, serve or link the declared dashboards")
    p.add_argument(
        "action",
        choices=["build", "serve", "links"],
        help="build: HTML pages from the warehouse; serve: them on loopback; links: Looker "
        "Studio Linking API URLs bound to the deployed views",
    )
    p.add_argument("--out", type=Path, help="build output (default .cardlake/dashboards)")
    p.add_argument("--port", type=int, default=8765, help="serve: loopback port")
    p.set_defaults(func=cmd_dashboards)

    p = sub.add_parser(
        "scan", help="count rows holding Luhn-valid PANs in Parquet (never prints them)"
    )
    p.add_argument("path", nargs="*", type=Path, help="Parquet datasets (default: the lake)")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("keys", help="show, rotate or retire the local dev token keys")
    p.add_argument("action", choices=["show", "rotate", "retire"])
    p.add_argument("--name", choices=["pan", "pii"], help="the key (rotate and retire: required)")
    p.add_argument("--version", type=_positive_int)
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("demo", help="stack, seed, run, views and dashboards on local defaults")
    p.add_argument("--members", type=_positive_int, default=DEMO_MEMBERS)
    p.add_argument("--days", type=_positive_int, default=DEMO_DAYS)
    p.add_argument("--seed", type=int, default=DEMO_SEED)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_reporting_errors(lambda: args.func(args))


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
