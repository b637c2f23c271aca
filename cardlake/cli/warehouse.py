"""`cardlake warehouse` and `cardlake query`: the BigQuery side."""

from __future__ import annotations

import csv
import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from cardlake.cli.output import plain_value, print_table, step
from cardlake.cli.params import port, positive_int
from devstack.localproc import DEFAULT_EMULATOR_PORT
from etl.errors import CardlakeError, Finding
from etl.settings import DEFAULT_MAX_BYTES_BILLED

warehouse_app = typer.Typer(help="The local BigQuery emulator, and the KPI views on any warehouse.")


def _view_option(help_text: str) -> Any:
    return typer.Option("--view", metavar="VIEW", help=help_text, show_default=False)


Views = Annotated[
    list[str] | None, _view_option("this view and what it reads (repeatable; default: all)")
]
FixtureViews = Annotated[
    list[str] | None, _view_option("this view's fixture (repeatable; default: all)")
]


@warehouse_app.command("up")
def warehouse_up(
    port: Annotated[
        int, typer.Option(parser=port, metavar="PORT", envvar="CARDLAKE_WAREHOUSE_PORT")
    ] = DEFAULT_EMULATOR_PORT,
) -> None:
    """Start the local BigQuery emulator on loopback."""
    from devstack import emulator
    from etl.settings import settings

    if settings().bq_project:
        raise CardlakeError("CARDLAKE_BQ_PROJECT is set: the warehouse is real BigQuery")
    print(f"BigQuery emulator on http://127.0.0.1:{emulator.up(port=port)}")


@warehouse_app.command("down")
def warehouse_down() -> None:
    """Stop the local emulator (its data stays under $CARDLAKE_HOME/warehouse)."""
    from devstack import emulator

    print("stopped" if emulator.down() else "nothing was running")


@warehouse_app.command("deploy")
def warehouse_deploy(view: Views = None) -> None:
    """Create or replace the views, with their descriptions, in dependency order."""
    from etl.resources import configured_warehouse
    from etl.views import deploy as views

    target = configured_warehouse()
    for name in views.deploy_views(target.client, target.settings, only=view):
        step(f"deployed {name}")


@warehouse_app.command("dry-run")
def warehouse_dry_run(view: Views = None) -> None:
    """Bytes each view would scan (real BigQuery only)."""
    from etl.resources import configured_warehouse
    from etl.settings import warehouse_settings
    from etl.views import deploy as views

    if warehouse_settings().use_emulator:
        print(
            "skipped: the local emulator cannot estimate bytes scanned. Set "
            "CARDLAKE_BQ_PROJECT to dry-run the views against real BigQuery"
        )
        return
    target = configured_warehouse()
    estimates = views.dry_run_views(target.client, target.settings, only=view)
    print_table(
        ["view", "bytes scanned", "GiB"],
        [(e.view, e.bytes_processed, f"{e.bytes_processed / 2**30:.3f}") for e in estimates],
    )


@warehouse_app.command("test")
def warehouse_test(view: FixtureViews = None) -> None:
    """Run the views' fixtures: rows in, expected rows out (exit 1 on a mismatch)."""
    from devstack import source_schema
    from etl.resources import configured_warehouse
    from etl.views import fixtures as sql_fixtures

    fixtures = sql_fixtures.load_fixtures()
    if view:
        unknown = sorted(set(view) - {f.name for f in fixtures})
        if unknown:
            raise CardlakeError(
                f"no fixture for {', '.join(unknown)}: a view's fixture is "
                "<view>.fixture.yaml next to its SQL in warehouse_sql/"
            )
        fixtures = [f for f in fixtures if f.name in view]
    target = configured_warehouse()
    failed = []
    for fixture in fixtures:
        checks = sql_fixtures.run_fixture(
            target.client, target.settings, fixture, source_schema.source_types
        )
        for check in checks:
            step(f"{'ok  ' if check.passed else 'FAIL'} {fixture.name}: {check.view}")
            if not check.passed:
                failed.append(check)
    for check in failed:
        print(check.describe())
    if failed:
        raise Finding(f"{len(failed)} view check(s) failed")


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def query(
    sql: Annotated[str, typer.Argument(help="standard SQL")],
    max_rows: Annotated[
        int,
        typer.Option(
            parser=positive_int,
            metavar="N",
            envvar="CARDLAKE_QUERY_MAX_ROWS",
            help="rows fetched from the server",
        ),
    ] = 50,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", envvar="CARDLAKE_QUERY_FORMAT")
    ] = OutputFormat.table,
    max_bytes: Annotated[
        int,
        typer.Option(
            parser=positive_int,
            metavar="N",
            envvar="CARDLAKE_QUERY_MAX_BYTES",
            help="fail a query that would bill more bytes (real BigQuery)",
        ),
    ] = DEFAULT_MAX_BYTES_BILLED,
) -> None:
    """Run SQL on the configured warehouse; print at most --max-rows rows."""
    from etl.load import warehouse

    page = warehouse.query_page(warehouse.client(), sql, max_rows, max_bytes)
    rows = [[plain_value(v) for v in row] for row in page.rows]
    if output_format is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(page.names)
        writer.writerows(rows)
    elif output_format is OutputFormat.json:
        for row in rows:
            print(json.dumps(dict(zip(page.names, row, strict=True)), ensure_ascii=False))
    else:
        print_table(page.names, rows, group_digits=False)
    if page.total_rows > len(rows):
        more = f"... {page.total_rows - len(rows):,} more rows (raise --max-rows to see them)"
        print(more, file=sys.stdout if output_format is OutputFormat.table else sys.stderr)
