"""`cardlake dashboards`: the declared dashboards, built offline or linked to Looker Studio."""

from __future__ import annotations

import functools
import http.server
from pathlib import Path
from typing import Annotated

import typer

from cardlake.cli.output import step
from cardlake.cli.params import language, port
from etl.errors import CardlakeError

dashboards_app = typer.Typer(help="Build, serve or link the declared dashboards.")

Out = Annotated[
    Path | None,
    typer.Option(
        envvar="CARDLAKE_DASHBOARDS_OUT",
        help="where the pages go",
        show_default="$CARDLAKE_HOME/dashboards",
    ),
]


def _out(out: Path | None) -> Path:
    from etl.settings import state_dir

    return out or state_dir() / "dashboards"


Lang = Annotated[
    str,
    typer.Option(
        parser=language, metavar="ja|en", envvar="CARDLAKE_DASHBOARDS_LANG", help="page language"
    ),
]


@dashboards_app.command("build")
def dashboards_build(out: Out = None, lang: Lang = "ja") -> None:
    """HTML pages and Looker Studio build sheets from the warehouse's KPI views (offline)."""
    from dashboards.build import build_all
    from etl.settings import warehouse_settings

    for path in build_all(_out(out), warehouse_settings(), lang):
        step(f"built {path}")


@dashboards_app.command("serve")
def dashboards_serve(
    out: Out = None,
    port: Annotated[
        int,
        typer.Option(
            parser=port, metavar="PORT", envvar="CARDLAKE_DASHBOARDS_PORT", help="0: any free"
        ),
    ] = 8765,
) -> None:
    """Serve the built pages on loopback (Ctrl-C stops)."""
    directory = _out(out)
    if not (directory / "index.html").exists():
        raise CardlakeError(f"nothing built in {directory}: run `cardlake dashboards build` first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(
            f"serving {directory} on http://127.0.0.1:{server.server_port}/ (Ctrl-C stops)",
            flush=True,
        )
        server.serve_forever()


@dashboards_app.command("links")
def dashboards_links() -> None:
    """Looker Studio Linking API URLs bound to the configured warehouse's views."""
    from dashboards.looker import linking_url, template_report_id
    from dashboards.spec import load_dashboards
    from etl.settings import warehouse_settings

    settings = warehouse_settings()
    if settings.use_emulator:
        print(
            f"note: these URLs name the local emulator's project ({settings.project}), which "
            "Looker Studio cannot reach; set CARDLAKE_BQ_PROJECT (and no emulator) for real "
            "BigQuery"
        )
    sheets = _out(None) / "looker"
    for dashboard in load_dashboards():
        template = template_report_id(dashboard) or (
            f"none yet: build it once in Looker Studio from {sheets / dashboard.name}.md "
            "(written by `cardlake dashboards build`), then set "
            "looker_studio.template_report_id; until then a blank report"
        )
        print(f"{dashboard.title.en} (template {template})\n  {linking_url(dashboard, settings)}")
