"""Render declared dashboards to self-contained HTML (inline SVG and CSS, no network)."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from google.cloud import bigquery

from etl import views, warehouse
from etl.config import WarehouseSettings

DASHBOARD_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Chart:
    title: str
    view: str
    type: str
    dimension: str
    metric: str
    tile: str


@dataclass(frozen=True)
class Dashboard:
    name: str
    title: str
    owner: str
    audience: str
    pages: list[tuple[str, list[Chart]]]


def load_dashboards(directory: Path = DASHBOARD_DIR) -> list[Dashboard]:
    dashboards = []
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        pages = [
            (
                page["title"],
                [
                    Chart(
                        c["title"],
                        c["view"],
                        c["type"],
                        c["dimension"],
                        c["metric"],
                        c.get("tile", "sum"),
                    )
                    for c in page["charts"]
                ],
            )
            for page in doc["pages"]
        ]
        dashboards.append(
            Dashboard(doc["name"], doc["title"], doc["owner"], doc["audience"], pages)
        )
    return dashboards


def chart_rows(
    bq: bigquery.Client, settings: WarehouseSettings, chart: Chart
) -> list[tuple[Any, float]]:
    view = next(v for v in views.view_definitions() if v.name == chart.view)
    sql = (
        f"select {chart.dimension}, {chart.metric} from `{views.view_id(settings, view)}` "
        f"order by {chart.dimension}"
    )
    _, rows = warehouse.query_rows(bq, sql)
    return [(dim, float(value or 0)) for dim, value in rows]


def _fmt(value: float) -> str:
    return f"{value:,.0f}"


def _bar_svg(rows: list[tuple[Any, float]], width: int = 900, height: int = 260) -> str:
    if not rows:
        return "<p class='empty'>No data yet.</p>"
    top = max(v for _, v in rows) or 1.0
    step = width / len(rows)
    bars = []
    for i, (dim, value) in enumerate(rows):
        h = max(1.0, (value / top) * (height - 20))
        label = html.escape(f"{dim}: ¥{_fmt(value)}")
        bars.append(
            f"<rect x='{i * step:.2f}' y='{height - h:.2f}' width='{max(step - 1, 1):.2f}' "
            f"height='{h:.2f}'><title>{label}</title></rect>"
        )
    first, last = html.escape(str(rows[0][0])), html.escape(str(rows[-1][0]))
    return (
        f"<svg class='chart' viewBox='0 0 {width} {height + 20}' role='img'>"
        + "".join(bars)
        + f"<text x='0' y='{height + 16}'>{first}</text>"
        + f"<text x='{width}' y='{height + 16}' text-anchor='end'>{last}</text></svg>"
    )


STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2733;background:#f6f8fa}
h1{margin-bottom:0}.meta{color:#5b6b7c}.card{background:#fff;border-radius:8px;padding:1rem;
margin:1rem 0;box-shadow:0 1px 3px #0002}.tile{font-size:2rem;font-weight:600}
.chart rect{fill:#2b6cb0}.chart rect:hover{fill:#ed8936}.chart text{font-size:12px;fill:#5b6b7c}
"""


def render(
    dashboard: Dashboard, data: dict[str, list[tuple[Any, float]]], built_at: dt.datetime
) -> str:
    sections = []
    for page_title, charts in dashboard.pages:
        cards = []
        for chart in charts:
            rows = data[chart.title]
            tile = sum(v for _, v in rows) if chart.tile == "sum" else (rows[-1][1] if rows else 0)
            cards.append(
                f"<div class='card' data-chart='{html.escape(chart.title)}'><h3>{html.escape(chart.title)}</h3>"
                f"<div class='tile' data-value='{tile:.0f}'>¥{_fmt(tile)}</div>{_bar_svg(rows)}</div>"
            )
        sections.append(f"<section><h2>{html.escape(page_title)}</h2>{''.join(cards)}</section>")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(dashboard.title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(dashboard.title)}</h1><p class='meta'>Owner: {html.escape(dashboard.owner)} · "
        f"audience: {html.escape(dashboard.audience)} · built {built_at:%Y-%m-%d %H:%M} UTC from the "
        f"warehouse views</p>{''.join(sections)}</body></html>"
    )


def build_all(out_dir: Path, settings: WarehouseSettings) -> list[Path]:
    bq = warehouse.client(settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    built_at = dt.datetime.now(dt.UTC)
    written = []
    for dashboard in load_dashboards():
        data = {
            chart.title: chart_rows(bq, settings, chart)
            for _, charts in dashboard.pages
            for chart in charts
        }
        path = out_dir / f"{dashboard.name}.html"
        path.write_text(render(dashboard, data, built_at), encoding="utf-8")
        written.append(path)
    return written
