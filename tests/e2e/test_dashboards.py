"""dashboards/: declared files consistent with warehouse_sql/, Looker Studio links, and the
pages rendered in a real headless Chromium: on the demo seed in Japanese and English, and on
a fixture with a missing day and a partial last day."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from google.cloud import bigquery
from pyspark.sql import SparkSession

from cardlake.cli.source import DEMO_DAYS, DEMO_MEMBERS, DEMO_SEED
from dashboards import build
from dashboards.formats import format_value
from dashboards.kpis import tile_value
from dashboards.looker import linking_url
from dashboards.spec import Page, Text, Tile, check_against_views, load_dashboards, load_glossary
from devstack import seed, stack
from devstack.source_schema import source_types
from etl.load import warehouse
from etl.settings import SQL_DIR, WarehouseSettings, warehouse_settings
from etl.views import deploy as views
from etl.views import fixtures as sql_fixtures
from masking.keys import DocumentKeyProvider
from tests.support.credit import delinquency_at
from tests.support.session import LoadedWarehouse, load_warehouse, reseed_after

DASHBOARDS = load_dashboards()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# The demo's population, anchored on a fixed day so the figures are the same every run.
DEMO_SPEC = seed.SeedSpec(DEMO_MEMBERS, DEMO_DAYS, DEMO_SEED, dt.date(2026, 12, 1))
RAW_FLOAT = re.compile(r"\d\.\d{5,}")


def _schema_settings(name: str) -> WarehouseSettings:
    """Datasets of their own, for empty raw and ops tables that resolve the views' columns."""
    return warehouse_settings().with_dataset_prefix(f"fx_{name}_")


@dataclasses.dataclass
class Browser:
    page: Any
    errors: list[str]
    requests: list[str]


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, with every page error and request recorded."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            seen = Browser(page, [], [])
            page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: seen.errors.append(str(e)))
            page.on("request", lambda r: seen.requests.append(r.url))
            yield seen
        finally:
            browser.close()
    assert seen.errors == []
    assert all(url.startswith("file://") for url in seen.requests), "pages must need no network"


def _open(browser: Browser, path: Path) -> None:
    browser.page.goto(path.as_uri())
    browser.page.wait_for_function(
        "() => [...document.querySelectorAll('.chart-card')]"
        ".every(c => c.getAttribute('data-rendered') === 'true')"
    )


@pytest.mark.warehouse
def test_every_view_and_column_a_dashboard_names_exists(bq_emulator: str) -> None:
    bq = warehouse.client()
    settings = _schema_settings("schema")
    sql_fixtures.load_inputs(bq, settings, {}, source_types)
    views.deploy_views(bq, settings)
    assert check_against_views(DASHBOARDS, build.deployed_columns(bq, settings)) == []


@pytest.mark.warehouse
def test_renaming_a_view_column_fails_naming_dashboard_chart_and_column(
    bq_emulator: str, tmp_path: Path
) -> None:
    sql_dir = tmp_path / "warehouse_sql"
    shutil.copytree(SQL_DIR, sql_dir)
    # The rename is complete in the view's SQL and its metadata; only the dashboard lags.
    view = sql_dir / "marts" / "kpi_gmv_daily.sql"
    select = "    gmv_jpy,\n    capture_count,\n    average_ticket_jpy\nfrom gmv"
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
    problems = check_against_views(DASHBOARDS, build.deployed_columns(bq, settings, sql_dir))
    assert (
        "dashboard executive, page 'Latest complete periods', chart 'Daily GMV': "
        "column gmv_jpy is not in view kpi_gmv_daily"
    ) in problems
    assert (
        "dashboard executive, page 'Latest complete periods', tile 'GMV (30 days)': "
        "column gmv_jpy is not in view kpi_gmv_daily"
    ) in problems


def test_masked_columns_and_lower_layers_are_refused() -> None:
    columns = {"kpi_gmv_daily": ["business_date", "is_complete", "gmv_jpy"]}
    [dashboard] = [d for d in DASHBOARDS if d.name == "executive"]
    text = Text("Cards", "カード")
    tile = Tile(text, text, "stg_cards", "issue_date", "sum", 30, "count", metric="card_id")
    token = Tile(text, text, "kpi_gmv_daily", "business_date", "sum", 30, "count", "pan_token")
    broken = dataclasses.replace(
        dashboard,
        name="broken",
        pages=(Page(Text("p", "p"), (tile, token), ()),),
        looker_data_sources={},
    )
    assert check_against_views([broken], columns) == [
        "dashboard broken, page 'p', tile 'Cards': reads stg_cards; dashboards read kpi_/mart_ "
        "views only",
        "dashboard broken, page 'p', tile 'Cards': column pan_token is a masked column",
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


@pytest.mark.browser
def test_a_missing_day_is_a_gap_and_a_partial_last_day_a_marked_point(tmp_path: Path) -> None:
    [executive] = [d for d in DASHBOARDS if d.name == "executive"]
    first = dt.date(2026, 11, 1)
    rows = {
        chart.view: [
            (first + dt.timedelta(days=i), *[1000.0 + i for _ in chart.y], i < 9)
            for i in range(10)
            if i != 4  # 2026-11-05 is missing
        ]
        for chart in executive.charts
    }
    data = build.DashboardData(
        tiles={t: tile_value(t, []) for t in executive.tiles},
        charts=[rows[c.view] for c in executive.charts],
        anomalies=[],
    )
    for lang in ("ja", "en"):
        ctx = build.PageContext(
            lang=lang,
            glossary=load_glossary(),
            descriptions={},
            as_of=dt.datetime(2026, 11, 10, 3, 0, tzinfo=dt.UTC),
            built_at=dt.datetime.now(dt.UTC),
            dashboards=DASHBOARDS,
            anomalies=[],
        )
        out = tmp_path / lang
        out.mkdir()
        build._write_bundle(out)
        (out / "executive.html").write_text(build.render(executive, data, ctx), encoding="utf-8")
    with chromium() as browser:
        _open(browser, tmp_path / "en" / "executive.html")
        drawn = browser.page.evaluate("() => window.cardlakeViews['Daily GMV'].data('chart')")
        by_day = {r["x"]: r for r in drawn}
        assert by_day["2026-11-05"]["value"] is None  # the gap is in the chart's data...
        assert (by_day["2026-11-10"]["line"], by_day["2026-11-10"]["partial"]) == (None, 1009.0)
        card = ".chart-card[data-chart='Daily GMV']"
        subpaths = browser.page.eval_on_selector_all(
            f"{card} g.mark-line path",
            "ps => ps.map(p => p.getAttribute('d').split('M').length - 1)",
        )
        assert subpaths == [2]  # ...and the line breaks there instead of dropping to zero
        partial = browser.page.eval_on_selector_all(
            f"{card} g.mark-symbol path[fill='transparent']",
            "ps => ps.map(p => p.getAttribute('aria-label'))",
        )
        assert len(partial) == 1 and "Nov 10" in partial[0] and "partial period" in partial[0]
        assert "data as of 2026-11-10 12:00 JST" in browser.page.inner_text(".as-of")


@pytest.fixture(scope="module")
def demo_warehouse(
    spark: SparkSession,
    seeded: dict[str, int],
    bq_emulator: str,
    tmp_path_factory: pytest.TempPathFactory,
    test_keys: DocumentKeyProvider,
) -> LoadedWarehouse:
    """The demo's population (3,000 members over 120 days) through the whole pipeline."""
    seed.seed(stack.endpoint("primary", "app"), DEMO_SPEC)
    stack.wait_for_replica()
    return load_warehouse(spark, test_keys, tmp_path_factory, "demo_")


restore_test_seed = reseed_after("restore_test_seed")


def _expected_tile(bq: bigquery.Client, view_id: str, tile: Tile) -> float | None:
    """The tile's value, aggregated in SQL straight from the view's complete periods."""
    complete = f"`{tile.complete}`"
    newest = f"(select max(`{tile.date}`) from `{view_id}` where {complete})"
    if tile.aggregate == "last":
        sql = f"select sum(`{tile.metric}`) from `{view_id}` where `{tile.date}` = {newest}"
    else:
        window = (
            f"{complete} and `{tile.date}` > date_sub({newest}, interval {tile.period_days} day)"
            f" and `{tile.date}` <= {newest}"
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


def _clipped_text(browser: Browser) -> list[str]:
    """Every chart text whose box leaves its chart's SVG."""
    return browser.page.evaluate(
        """() => [...document.querySelectorAll('.chart-body svg')].flatMap(svg => {
            const box = svg.getBoundingClientRect();
            return [...svg.querySelectorAll('text')].filter(t => {
                const r = t.getBoundingClientRect();
                return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1 ||
                    r.top < box.top - 1 || r.bottom > box.bottom + 1);
            }).map(t => t.textContent);
        })"""
    )


def _page_text(browser: Browser) -> str:
    svg = browser.page.eval_on_selector_all("svg text", "ts => ts.map(t => t.textContent)")
    return browser.page.inner_text("body") + "\n" + "\n".join(svg)


def _fonts(browser: Browser, selector: str) -> list[str]:
    """The fonts Chromium really drew a node's text with (DevTools protocol)."""
    cdp = browser.page.context.new_cdp_session(browser.page)
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    cdp.send("CSS.enable")
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return [f["familyName"] for f in fonts]


@pytest.mark.stack
@pytest.mark.spark
@pytest.mark.warehouse
@pytest.mark.browser
def test_demo_pages_in_japanese_and_english_are_honest_and_readable(
    demo_warehouse: LoadedWarehouse, tmp_path: Path
) -> None:
    settings = demo_warehouse.settings
    bq = warehouse.client(settings)
    view_ids = {v.name: views.view_id(settings, v) for v in views.view_definitions()}
    out = tmp_path / "dashboards"
    snapshot = build.read_warehouse(settings)
    for lang in ("ja", "en"):
        pages = build.write_pages(out / lang, snapshot, settings, lang)
        names = [p.name for p in pages]
        assert names[:2] == ["index.html", build.VEGA_BUNDLE]
        assert {f"{d.name}.html" for d in DASHBOARDS} | {f"{d.name}.md" for d in DASHBOARDS} <= set(
            names
        )

    # Every KPI tile lies inside its declared range and moves no more than declared: the
    # demo data raises no anomaly. The delinquency tile is the credit definition, recomputed
    # in Python from the source database.
    assert snapshot.anomalies == []
    [executive] = [d for d in DASHBOARDS if d.name == "executive"]
    tiles = snapshot.data["executive"].tiles
    [delinquency] = [t for t in executive.tiles if t.metric == "delinquency_rate"]
    month_end = tiles[delinquency].period_end
    assert month_end is not None and month_end < dt.date(2026, 12, 1)
    assert tiles[delinquency].value == pytest.approx(delinquency_at(month_end).rate_30_plus)
    expected = {
        tile: _expected_tile(bq, view_ids[tile.view], tile)
        for dashboard in DASHBOARDS
        for tile in dashboard.tiles
    }

    with chromium() as browser:
        for lang in ("ja", "en"):
            (out / "screenshots" / lang).mkdir(parents=True)
            _open(browser, out / lang / "index.html")
            assert browser.page.locator("ul.index a").count() == len(DASHBOARDS)
            for dashboard in DASHBOARDS:
                _open(browser, out / lang / f"{dashboard.name}.html")
                drawn = [c for c in dashboard.charts if c.type != "table"]
                assert browser.page.locator(".chart-body svg").count() == len(drawn)
                for tile in dashboard.tiles:
                    node = browser.page.locator(f".tile[data-tile='{tile.title.en}']").first
                    shown = float(node.get_attribute("data-value") or "nan")
                    assert expected[tile] is not None, tile.title.en
                    assert shown == pytest.approx(expected[tile], rel=1e-9), tile.title.en
                    value = format_value(expected[tile], tile.format, lang)
                    assert node.locator(".tile-value").inner_text() == value
                assert _clipped_text(browser) == [], (lang, dashboard.name)
                text = _page_text(browser)
                assert not re.search(r"NaN|undefined|Infinity", text), (lang, dashboard.name)
                assert not RAW_FLOAT.findall(text), (lang, dashboard.name)
                browser.page.screenshot(
                    path=str(out / "screenshots" / lang / f"{dashboard.name}.png"), full_page=True
                )
            if lang == "ja":
                assert any("CJK" in f for f in _fonts(browser, "h1")), "Japanese needs a CJK font"
                _open(browser, out / lang / "data_health.html")
                assert "宣言された範囲を外れた KPI はありません" in browser.page.inner_text(
                    ".anomalies"
                )

        # A series toggle is a keyboard-reachable button that hides its line.
        _open(browser, out / "en" / "executive.html")
        card = browser.page.locator(".chart-card[data-chart='Active cardholders']")
        assert card.locator("g.mark-line path").count() == 2
        toggle = card.locator("button[data-series='Active in 30 days']")
        toggle.focus()
        browser.page.keyboard.press("Enter")
        assert toggle.get_attribute("aria-pressed") == "false"
        browser.page.wait_for_function(
            "() => document.querySelectorAll(\"[data-chart='Active cardholders'] g.mark-line path\").length === 1"
        )
    shots = list((out / "screenshots").rglob("*.png"))
    assert len(shots) == 2 * len(DASHBOARDS) and all(s.stat().st_size > 10_000 for s in shots)
