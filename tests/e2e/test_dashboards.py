"""dashboards/: declared files consistent with warehouse_sql/, Looker Studio links, and the
offline pages rendered and checked in a real headless Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from google.cloud import bigquery

from dashboards.build import build_all, deployed_columns, format_value
from dashboards.looker import linking_url
from dashboards.spec import Tile, check_against_views, load_dashboards
from devstack.source_schema import source_types
from etl.load import warehouse
from etl.settings import SQL_DIR, WarehouseSettings, warehouse_settings
from etl.views import deploy as views
from etl.views import fixtures as sql_fixtures
from tests.support.session import LoadedWarehouse

DASHBOARDS = load_dashboards()
CHROMIUM = "/usr/bin/chromium"


def _schema_settings(name: str) -> WarehouseSettings:
    """Datasets of their own, for empty raw and ops tables that resolve the views' columns."""
    return warehouse_settings().with_dataset_prefix(f"fx_{name}_")


def test_the_four_dashboards_and_the_health_page_are_declared() -> None:
    assert {d.name for d in DASHBOARDS} == {
        "executive",
        "acquisition",
        "spending",
        "credit_risk",
        "data_health",
    }


@pytest.mark.warehouse
def test_every_view_and_column_a_dashboard_names_exists(bq_emulator: str) -> None:
    bq = warehouse.client()
    settings = _schema_settings("schema")
    sql_fixtures.load_inputs(bq, settings, {}, source_types)
    views.deploy_views(bq, settings)
    assert check_against_views(DASHBOARDS, deployed_columns(bq, settings)) == []


@pytest.mark.warehouse
def test_renaming_a_view_column_fails_naming_dashboard_chart_and_column(
    bq_emulator: str, tmp_path: Path
) -> None:
    sql_dir = tmp_path / "warehouse_sql"
    shutil.copytree(SQL_DIR, sql_dir)
    # The rename is complete in the view's SQL and its metadata; only the dashboard lags.
    view = sql_dir / "marts" / "kpi_gmv_daily.sql"
    select = "period_start as business_date,\n    gmv_jpy,"
    assert select in view.read_text()
    view.write_text(
        view.read_text().replace(select, select.replace("gmv_jpy", "gmv_jpy as gmv_yen"))
    )
    metadata = view.with_suffix(".yaml")
    metadata.write_text(metadata.read_text().replace("\n  gmv_jpy:", "\n  gmv_yen:"))
    bq = warehouse.client()
    settings = _schema_settings("renamed")
    sql_fixtures.load_inputs(bq, settings, {}, source_types)
    views.deploy_views(bq, settings, sql_dir=sql_dir)
    problems = check_against_views(DASHBOARDS, deployed_columns(bq, settings, sql_dir))
    assert (
        "dashboard executive, page 'This month at a glance', chart 'Daily GMV': "
        "column gmv_jpy is not in view kpi_gmv_daily"
    ) in problems
    assert (
        "dashboard executive, page 'This month at a glance', tile 'GMV': "
        "column gmv_jpy is not in view kpi_gmv_daily"
    ) in problems


def test_masked_columns_and_lower_layers_are_refused() -> None:
    columns = {"kpi_gmv_daily": ["business_date", "gmv_jpy"]}
    [dashboard] = [d for d in DASHBOARDS if d.name == "executive"]
    tile = Tile("Cards", "stg_cards", "issue_date", "sum", 30, "count", metric="card_id")
    token = Tile("Tokens", "kpi_gmv_daily", "business_date", "sum", 30, "count", "pan_token")
    page = dashboard.pages[0]
    broken = type(dashboard)(
        "broken", dashboard.path, "t", "o", "a", (type(page)("p", (tile, token), ()),)
    )
    assert check_against_views([broken], columns) == [
        "dashboard broken, page 'p', tile 'Cards': reads stg_cards; dashboards read kpi_/mart_ "
        "views only",
        "dashboard broken, page 'p', tile 'Tokens': column pan_token is a masked column",
    ]


def test_links_bind_the_template_to_the_configured_views(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CARDLAKE_LOOKER_TEMPLATE_EXECUTIVE", "0a1b2c3d-template")
    settings = WarehouseSettings(
        "acme-analytics", "asia-northeast1", "raw", "stg", "mart", "ops", None
    )
    by_name = {d.name: d for d in DASHBOARDS}
    url = urlparse(linking_url(by_name["executive"], settings))
    assert (url.scheme, url.netloc, url.path) == (
        "https",
        "lookerstudio.google.com",
        "/reporting/create",
    )
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert params["c.reportId"] == "0a1b2c3d-template"
    assert params["r.reportName"] == "cardlake - Executive KPIs"
    assert {k.split(".")[2]: v for k, v in params.items() if k.startswith("ds.gmv.")} == {
        "connector": "bigQuery",
        "type": "TABLE",
        "projectId": "acme-analytics",
        "datasetId": "mart",
        "tableId": "kpi_gmv_daily",
        "datasourceName": "cardlake kpi_gmv_daily",
    }
    spending = {
        k: v[0]
        for k, v in parse_qs(urlparse(linking_url(by_name["spending"], settings)).query).items()
    }
    assert "c.reportId" not in spending  # no template configured: a blank report
    assert spending["ds.kpi_spending_monthly.tableId"] == "kpi_spending_monthly"


def _expected_tile(bq: bigquery.Client, view_id: str, tile: Tile) -> float | None:
    """The tile's value, aggregated in SQL straight from the view."""
    newest = f"(select max(`{tile.date}`) from `{view_id}`)"
    if tile.aggregate == "last":
        sql = f"select sum(`{tile.metric}`) from `{view_id}` where `{tile.date}` = {newest}"
    else:
        window = (
            f"`{tile.date}` > date_sub({newest}, interval {tile.period_days} day) "
            f"and `{tile.date}` <= {newest}"
        )
        if tile.aggregate == "sum":
            value = f"sum(`{tile.metric}`)"
        else:
            numerator = " + ".join(f"coalesce(sum(`{c}`), 0)" for c in tile.numerator)
            denominator = " + ".join(f"coalesce(sum(`{c}`), 0)" for c in tile.denominator)
            value = f"safe_divide({numerator}, {denominator})"
        sql = f"select {value} from `{view_id}` where {window}"
    _, [(value,)] = warehouse.query_rows(bq, sql)
    return None if value is None else float(value)


@pytest.mark.stack
@pytest.mark.spark
@pytest.mark.warehouse
@pytest.mark.browser
def test_pages_render_in_chromium_with_tiles_equal_to_the_views(
    loaded_warehouse: LoadedWarehouse, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    settings = loaded_warehouse.settings
    bq = warehouse.client(settings)
    out = tmp_path / "dashboards"
    pages = build_all(out, settings)
    assert [p.name for p in pages] == ["index.html", *(f"{d.name}.html" for d in DASHBOARDS)]
    view_ids = {v.name: views.view_id(settings, v) for v in views.view_definitions()}
    (out / "screenshots").mkdir()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto((out / "index.html").as_uri())
            assert page.locator("ul.index a").count() == len(DASHBOARDS)
            for dashboard in DASHBOARDS:
                page.goto((out / f"{dashboard.name}.html").as_uri())
                charts = [c for p in dashboard.pages for c in p.charts]
                page.wait_for_selector(".chart-card[data-rendered='true']", state="attached")
                assert page.locator(".chart-card[data-rendered='true']").count() == len(charts)
                drawn = [c for c in charts if c.type != "table"]
                assert page.locator(".chart-card svg.chart").count() == len(drawn), dashboard.name
                assert page.locator(".chart-card table.data").count() == len(charts) - len(drawn)
                for tile in (t for p in dashboard.pages for t in p.tiles):
                    expected = _expected_tile(bq, view_ids[tile.view], tile)
                    node = page.locator(f".tile[data-tile='{tile.title}']")
                    shown = float(node.get_attribute("data-value") or "nan")
                    assert expected is not None and abs(shown - expected) <= 1e-9 * max(
                        1, abs(expected)
                    ), tile.title
                    assert node.locator(".tile-value").inner_text() == format_value(
                        expected, tile.format
                    )
                page.screenshot(
                    path=str(out / "screenshots" / f"{dashboard.name}.png"), full_page=True
                )
            # Interactivity: hiding a series redraws the chart without it.
            page.goto((out / "executive.html").as_uri())
            card = page.locator(".chart-card[data-chart='Active cardholders']")
            assert card.locator("polyline").count() == 2
            card.locator(".controls button", has_text="active_cardholders_30d").click()
            assert card.locator("polyline").count() == 1
        finally:
            browser.close()
    assert errors == []
    assert all(url.startswith("file://") for url in requests), "the pages must need no network"
    assert all((out / "screenshots" / f"{d.name}.png").stat().st_size > 10_000 for d in DASHBOARDS)
