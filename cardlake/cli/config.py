"""`cardlake config show`: the effective settings, secrets redacted."""

from __future__ import annotations

import typer

from cardlake.cli.output import print_table

config_app = typer.Typer(help="The effective settings (CARDLAKE_* variables).")


@config_app.command("show")
def config_show() -> None:
    """Every setting, its value (secrets redacted) and where the value came from."""
    from etl.settings import effective_settings

    print_table(["variable", "value", "from"], effective_settings())
