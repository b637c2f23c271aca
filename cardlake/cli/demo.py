"""`cardlake demo`: the whole path on local defaults, from an empty machine state."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from cardlake.cli.lake import scan_paths
from cardlake.cli.output import Stages, print_table, step
from cardlake.cli.params import positive_int, whole_number
from cardlake.cli.source import DEMO_DAYS, DEMO_MEMBERS, DEMO_SEED, run_tables, seed_source


def demo(
    members: Annotated[
        int, typer.Option(parser=positive_int, metavar="N", envvar="CARDLAKE_DEMO_MEMBERS")
    ] = DEMO_MEMBERS,
    days: Annotated[
        int, typer.Option(parser=positive_int, metavar="N", envvar="CARDLAKE_DEMO_DAYS")
    ] = DEMO_DAYS,
    seed: Annotated[
        int, typer.Option(parser=whole_number, metavar="N", envvar="CARDLAKE_DEMO_SEED")
    ] = DEMO_SEED,
) -> None:
    """Stack, seed, run every table, scan for PANs, deploy the views, build the dashboards."""
    from dashboards.build import build_all
    from devstack import emulator, stack
    from devstack.seed import SeedSpec
    from etl.resources import configured_warehouse
    from etl.settings import lake_location, state_dir, warehouse_settings
    from etl.views import deploy as views

    stages = Stages(7)
    with stages.stage("start the MariaDB primary + read replica"):
        if stack.is_up():
            step("(already running, reused)")
        else:
            stack.down()
            stack.up()
    with stages.stage("start the local BigQuery emulator"):
        if warehouse_settings().use_emulator:
            emulator.up()
    with stages.stage(f"seed {members:,} members over {days} days on the primary"):
        seed_source(SeedSpec(members, days, seed, dt.datetime.now(dt.UTC).date()))
    with stages.stage("extract from the replica, mask, write Parquet, load BigQuery (all tables)"):
        results = run_tables(None, 4, False, False)
    with stages.stage("scan every published Parquet snapshot for PANs (counts only)"):
        scan_paths([r.snapshot.path for r in results])
    target = configured_warehouse()
    settings = target.settings
    with stages.stage("deploy the KPI views"):
        deployed = views.deploy_views(target.client, settings)
    with stages.stage("build the dashboards"):
        pages = build_all(state_dir() / "dashboards", settings)
    print()
    print_table(["table", "rows in warehouse"], [(r.table, r.rows_loaded) for r in results])
    warehouse_line = (
        f"BigQuery emulator {settings.api_endpoint}" if settings.use_emulator else "BigQuery"
    )
    print(f"""
Source      primary {stack.endpoint("primary", "app").display} (writes)
            replica {stack.endpoint("replica", "etl").display} (the only endpoint the ETL reads)
Parquet     {lake_location()}/<table>/CURRENT.json points at the published run
Warehouse   {warehouse_line} project {settings.project}
Views       {len(deployed)} views in {settings.project}: {settings.stg_dataset}, {settings.mart_dataset}
Dashboards  {pages[0]} (open it in a browser; works offline)

Try:  .venv/bin/cardlake query "select * from \\`{settings.project}.{settings.mart_dataset}.kpi_gmv_daily\\` order by 1 desc limit 7"
Stop: .venv/bin/cardlake stack down && .venv/bin/cardlake warehouse down""")
