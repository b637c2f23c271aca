"""The `cardlake` command line (Typer): one app, one error style, exit codes 0/1/2."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

from cardlake.cli.config import config_app
from cardlake.cli.dashboards import dashboards_app
from cardlake.cli.demo import demo
from cardlake.cli.glue import glue_app
from cardlake.cli.lake import keys_app, scan
from cardlake.cli.source import bookmarks_app, run_command, seed_command, stack_app
from cardlake.cli.warehouse import query, warehouse_app
from etl.errors import EXIT_ERROR, CardlakeError, run_reporting_errors

app = typer.Typer(
    name="cardlake",
    help="Masked analytics lake for a card issuer: replica -> masked Parquet -> BigQuery KPIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
app.add_typer(stack_app, name="stack", no_args_is_help=True)
app.command("seed")(seed_command)
app.command("run")(run_command)
app.add_typer(bookmarks_app, name="bookmarks", no_args_is_help=True)
app.add_typer(warehouse_app, name="warehouse", no_args_is_help=True)
app.command("query")(query)
app.add_typer(dashboards_app, name="dashboards", no_args_is_help=True)
app.command("scan")(scan)
app.add_typer(keys_app, name="keys", no_args_is_help=True)
app.command("demo")(demo)
app.add_typer(config_app, name="config", no_args_is_help=True)
app.add_typer(glue_app, name="glue", no_args_is_help=True)


def _invoke(argv: Sequence[str] | None) -> None:
    command = typer.main.get_command(app)
    try:
        code = command.main(
            args=list(sys.argv[1:] if argv is None else argv),
            prog_name="cardlake",
            standalone_mode=False,
        )
    except typer.Abort:
        raise KeyboardInterrupt from None
    except typer.TyperException as exc:  # Typer's usage errors: bad or missing options
        context = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as a usage error
            print(exc.format_message(), file=sys.stderr)
            raise SystemExit(EXIT_ERROR) from None
        where = context.command_path if context is not None else "cardlake"
        message = " ".join(exc.format_message().split())
        raise CardlakeError(f"{message} (see `{where} --help`)") from None
    if isinstance(code, int) and code != 0:
        raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; expected failures print one `cardlake: error:` line (exit 1 or 2)."""
    try:
        return run_reporting_errors(lambda: _invoke(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    except BrokenPipeError:
        # A reader such as `head` stopped early: not an error, and nothing more to print.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run() -> None:
    sys.exit(main())
