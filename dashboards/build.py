"""Render the declared dashboards to self-contained HTML: KPI tiles and interactive charts.

Everything is inline (CSS, JavaScript, data as JSON), so a page opens from disk with no
network. Data comes from the configured warehouse's KPI views only.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from google.cloud import bigquery

from dashboards.spec import Chart, Dashboard, Tile, check_against_views, load_dashboards
from etl.errors import CardlakeError
from etl.load import warehouse
from etl.settings import SQL_DIR, WarehouseSettings
from etl.views import deploy as views

ASSETS = Path(__file__).resolve().parent / "assets"


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _view_ids(settings: WarehouseSettings, sql_dir: Path = SQL_DIR) -> dict[str, str]:
    return {v.name: views.view_id(settings, v) for v in views.view_definitions(sql_dir)}


def deployed_columns(
    bq: bigquery.Client, settings: WarehouseSettings, sql_dir: Path = SQL_DIR
) -> dict[str, list[str]]:
    """Output columns of every view as the warehouse resolves it."""
    return {
        name: views.view_columns(bq, table_id)
        for name, table_id in _view_ids(settings, sql_dir).items()
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def chart_rows(bq: bigquery.Client, view_id: str, chart: Chart) -> list[list[Any]]:
    columns = [chart.x, *([chart.series] if chart.series else []), *chart.y]
    where = " and ".join(f"`{c}` = {_sql_literal(v)}" for c, v in chart.filters.items())
    order = ", ".join(f"`{c}`" for c in columns[: 2 if chart.series else 1])
    sql = (
        f"select {', '.join(f'`{c}`' for c in columns)} from `{view_id}`"
        + (f" where {where}" if where else "")
        + f" order by {order}"
    )
    _, rows = warehouse.query_rows(bq, sql)
    return [[_json_value(v) for v in row] for row in rows]


@dataclass(frozen=True)
class TileValue:
    value: float | None
    previous: float | None
    as_of: str | None

    @property
    def change(self) -> float | None:
        if self.value is None or not self.previous:
            return None
        return (self.value - self.previous) / abs(self.previous)


def tile_value(bq: bigquery.Client, view_id: str, tile: Tile) -> TileValue:
    """Newest period (or value) of a tile and the period (or value) before it."""
    measures = [tile.metric] if tile.metric else [*tile.numerator, *tile.denominator]
    _, rows = warehouse.query_rows(
        bq,
        f"select `{tile.date}`, {', '.join(f'`{m}`' for m in measures)} from `{view_id}`",
    )
    by_date: dict[dt.date, list[float]] = {}
    for date, *values in rows:
        acc = by_date.setdefault(date, [0.0] * len(measures))
        for i, value in enumerate(values):
            acc[i] += float(value or 0)
    if not by_date:
        return TileValue(None, None, None)
    newest = max(by_date)
    period = dt.timedelta(days=tile.period_days)
    if tile.aggregate == "last":
        earlier = [d for d in by_date if d <= newest - period]
        return TileValue(
            by_date[newest][0], by_date[max(earlier)][0] if earlier else None, newest.isoformat()
        )

    def window(end: dt.date) -> float | None:
        days = [d for d in by_date if end - period < d <= end]
        if not days:
            return None
        sums = [sum(by_date[d][i] for d in days) for i in range(len(measures))]
        if tile.aggregate == "sum":
            return sums[0]
        numerator = sum(sums[: len(tile.numerator)])
        denominator = sum(sums[len(tile.numerator) :])
        return numerator / denominator if denominator else None

    return TileValue(window(newest), window(newest - period), newest.isoformat())


def format_value(value: float | None, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "yen":
        return f"¥{value:,.0f}"
    if kind == "percent":
        return f"{value * 100:.1f}%"
    if kind == "hours":
        return f"{value:.1f} h"
    return f"{value:,.0f}"


def _tile_html(tile: Tile, result: TileValue) -> str:
    change = result.change
    if change is None:
        delta = "<span class='delta'>no earlier period</span>"
    else:
        arrow = "▲" if change > 0 else "▼" if change < 0 else "■"
        delta = f"<span class='delta'>{arrow} {abs(change) * 100:.1f}% vs previous</span>"
    period = "newest value" if tile.aggregate == "last" else f"last {tile.period_days} days"
    raw = "" if result.value is None else repr(result.value)
    return (
        f"<div class='tile' data-tile='{html.escape(tile.title)}' data-value='{raw}'>"
        f"<div class='tile-title'>{html.escape(tile.title)}</div>"
        f"<div class='tile-value'>{format_value(result.value, tile.format)}</div>"
        f"{delta}<div class='tile-period'>{period} to {result.as_of or 'n/a'}</div></div>"
    )


def _chart_html(index: int, chart: Chart, rows: list[list[Any]]) -> str:
    spec = {
        "title": chart.title,
        "type": chart.type,
        "x": chart.x,
        "series": chart.series,
        "y": list(chart.y),
        "format": chart.format,
        "rangeDays": chart.date_range_days,
        "rows": rows,
    }
    payload = json.dumps(spec, ensure_ascii=False).replace("</", "<\\/")
    return (
        f"<div class='card chart-card' data-chart='{html.escape(chart.title)}' "
        f"data-source='chart-data-{index}'><h3>{html.escape(chart.title)}</h3>"
        f"<div class='chart-body'></div></div>"
        f"<script type='application/json' id='chart-data-{index}'>{payload}</script>"
    )


def render(
    dashboard: Dashboard,
    tiles: dict[str, TileValue],
    charts: dict[str, list[list[Any]]],
    built_at: dt.datetime,
    others: list[Dashboard],
) -> str:
    nav = " · ".join(f"<a href='{d.name}.html'>{html.escape(d.title)}</a>" for d in others)
    sections = []
    index = 0
    for page in dashboard.pages:
        parts = [f"<section><h2>{html.escape(page.title)}</h2>"]
        if page.tiles:
            parts.append(
                "<div class='tiles'>"
                + "".join(_tile_html(t, tiles[t.title]) for t in page.tiles)
                + "</div>"
            )
        for chart in page.charts:
            parts.append(_chart_html(index, chart, charts[chart.title]))
            index += 1
        parts.append("</section>")
        sections.append("".join(parts))
    return (
        "<!doctype html><html lang='ja'><head><meta charset='utf-8'>"
        f"<title>{html.escape(dashboard.title)}</title>"
        f"<style>{(ASSETS / 'dashboard.css').read_text()}</style></head><body>"
        f"<nav>{nav}</nav><h1>{html.escape(dashboard.title)}</h1>"
        f"<p class='meta'>Owner: {html.escape(dashboard.owner)} · audience: "
        f"{html.escape(dashboard.audience)} · built {built_at:%Y-%m-%d %H:%M} UTC from the "
        f"warehouse's KPI views (aggregates only)</p>{''.join(sections)}"
        f"<script>{(ASSETS / 'dashboard.js').read_text()}</script></body></html>"
    )


def _index(dashboards: list[Dashboard], built_at: dt.datetime) -> str:
    items = "".join(
        f"<li><a href='{d.name}.html'>{html.escape(d.title)}</a> — {html.escape(d.audience)}</li>"
        for d in dashboards
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>cardlake dashboards"
        f"</title><style>{(ASSETS / 'dashboard.css').read_text()}</style></head><body>"
        f"<h1>cardlake dashboards</h1><p class='meta'>built {built_at:%Y-%m-%d %H:%M} UTC</p>"
        f"<ul class='index'>{items}</ul></body></html>"
    )


def build_all(out_dir: Path, settings: WarehouseSettings) -> list[Path]:
    """index.html plus one page per dashboard; refuses dashboards that name missing columns."""
    bq = warehouse.client(settings)
    dashboards = load_dashboards()
    problems = check_against_views(dashboards, deployed_columns(bq, settings))
    if problems:
        raise CardlakeError("dashboards do not match the views: " + "; ".join(problems))
    ids = _view_ids(settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    built_at = dt.datetime.now(dt.UTC)
    written = [out_dir / "index.html"]
    written[0].write_text(_index(dashboards, built_at), encoding="utf-8")
    for dashboard in dashboards:
        tiles = {
            t.title: tile_value(bq, ids[t.view], t) for page in dashboard.pages for t in page.tiles
        }
        charts = {
            c.title: chart_rows(bq, ids[c.view], c) for page in dashboard.pages for c in page.charts
        }
        path = out_dir / f"{dashboard.name}.html"
        path.write_text(render(dashboard, tiles, charts, built_at, dashboards), encoding="utf-8")
        written.append(path)
    return written
