"""Render the declared dashboards to static HTML: KPI tiles, Vega-Lite charts, tables.

Pages need no network: CSS, data and chart specs are inline and the Vega libraries are
one local file next to the pages (vl-convert's offline bundle). Data comes from the
configured warehouse's KPI views only; every period a view marks incomplete is drawn as
partial and never enters a tile or a comparison.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import altair as alt
import vl_convert
from google.cloud import bigquery

from dashboards import charts, looker
from dashboards.formats import (
    FORMAT_LOCALES,
    as_of_text,
    format_change,
    format_period,
    format_value,
)
from dashboards.kpis import Anomaly, TileValue, anomalies, tile_value
from dashboards.spec import (
    Chart,
    Dashboard,
    Glossary,
    Tile,
    check_against_views,
    load_dashboards,
    load_glossary,
    unlabelled_columns,
)
from etl.errors import CardlakeError
from etl.gate.gx_project import data_docs_index
from etl.lake.store import Store
from etl.load import warehouse
from etl.settings import SQL_DIR, WarehouseSettings, lake_location
from etl.views import deploy as views

VEGA_BUNDLE = "vega-bundle.js"
# Stands for the completeness column of a view that has none (the ops views are snapshots,
# always whole): ViewRows.select gives True in its place.
ALWAYS_COMPLETE = "(always complete)"
# What the bundle exposes to the page's own script.
GLOBALS = "window.vegaEmbed = vegaEmbed; window.vega = vega; window.vegaLite = vegaLite;"
TIME_LOCALES: dict[str, Literal["ja-JP", "en-US"]] = {"ja": "ja-JP", "en": "en-US"}
WORDS = {
    "owner": {"ja": "担当", "en": "Owner"},
    "audience": {"ja": "対象", "en": "audience"},
    "built": {"ja": "作成", "en": "built"},
    "aggregates": {
        "ja": "ウェアハウスの KPI ビュー（集計値のみ）から作成",
        "en": "from the warehouse's KPI views (aggregates only)",
    },
    "newest": {"ja": "最新の確定値", "en": "newest complete value"},
    "days": {"ja": "確定した直近{n}日（{end}まで）", "en": "last {n} complete days to {end}"},
    "all": {"ja": "全期間", "en": "All"},
    "range_days": {"ja": "{n}日", "en": "{n} days"},
    "series": {"ja": "系列の表示切替", "en": "Show or hide series"},
    "range": {"ja": "表示期間", "en": "Date range"},
    "partial_note": {
        "ja": "白抜きの点・薄い棒は途中（未確定）の期間です。",
        "en": "Hollow points and faded bars are partial periods, still filling in.",
    },
    "partial": {"ja": "（途中）", "en": " (partial)"},
    "anomalies": {"ja": "KPI の異常検知", "en": "KPI anomalies"},
    "no_anomalies": {
        "ja": "宣言された範囲を外れた KPI はありません。",
        "en": "No KPI is outside its declared range.",
    },
    "range_rule": {"ja": "想定範囲外", "en": "outside its plausible range"},
    "move_rule": {"ja": "前期間からの変動が大きすぎる", "en": "moved more than declared"},
    "warning": {"ja": "⚠ 要確認: ", "en": "⚠ check: "},
    "looker": {"ja": "Looker Studio 作成シート", "en": "Looker Studio build sheet"},
    "data_docs": {
        "ja": "データ品質ゲートの検証結果（Great Expectations Data Docs、件数のみ）",
        "en": "Data-quality gate results (Great Expectations Data Docs, counts only)",
    },
    "dashboards": {"ja": "cardlake ダッシュボード", "en": "cardlake dashboards"},
}
ANOMALY_HEADERS = {
    "ja": ["ダッシュボード", "KPI", "ビュー", "日付", "値", "内容"],
    "en": ["dashboard", "KPI", "view", "date", "value", "rule"],
}


def _word(key: str, lang: str, **values: Any) -> str:
    return WORDS[key][lang].format(**values)


def _asset(name: str) -> str:
    return resources.files("dashboards").joinpath("assets", name).read_text(encoding="utf-8")


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


def _sort_key(value: Any) -> tuple[bool, Any]:
    """BigQuery's ascending order: NULLs first."""
    return (value is not None, value)


@dataclass(frozen=True)
class ViewRows:
    """A view's rows, read once for every tile and chart that shows it: each is a
    selection of these (a query per tile and chart cost ~0.6 s each on the emulator, and a
    query's fixed latency on BigQuery)."""

    columns: dict[str, int]  # column name -> position in a row
    rows: list[tuple[Any, ...]]

    def select(
        self, columns: list[str], filters: dict[str, Any], order: list[str]
    ) -> list[tuple[Any, ...]]:
        """Rows where each filter column equals its value (a NULL equals nothing; the spec
        allows only bool, integer and string values), ordered as BigQuery orders ascending
        (NULLs first)."""
        at = self.columns
        kept = [
            r
            for r in self.rows
            if all(r[at[c]] is not None and r[at[c]] == v for c, v in filters.items())
        ]
        kept.sort(key=lambda r: tuple(_sort_key(r[at[c]]) for c in order))
        return [tuple(True if c == ALWAYS_COMPLETE else r[at[c]] for c in columns) for r in kept]


def _chart_columns(chart: Chart) -> tuple[list[str], list[str]]:
    """(selected, ordered by): x, [series], *y, complete."""
    series = [chart.series] if chart.series else []
    columns = [chart.x, *series, *chart.y, chart.complete or ALWAYS_COMPLETE]
    return columns, list(chart.order) or [chart.x, *series]


def read_views(
    bq: bigquery.Client, ids: dict[str, str], dashboards: list[Dashboard]
) -> dict[str, ViewRows]:
    """Every view the dashboards show, each read once with every column any of them uses
    (the columns `check_against_views` found in it)."""
    needed: dict[str, dict[str, None]] = {}
    for dashboard in dashboards:
        items: list[Tile | Chart] = [*dashboard.tiles, *dashboard.charts]
        for item in items:
            needed.setdefault(item.view, {}).update(dict.fromkeys(item.columns))
    read = {}
    for view, columns in needed.items():
        selected = ", ".join(f"`{c}`" for c in columns)
        names, rows = warehouse.query_rows(bq, f"select {selected} from `{ids[view]}`")
        read[view] = ViewRows({c: i for i, c in enumerate(names)}, rows)
    return read


def chart_rows(view: ViewRows, chart: Chart) -> list[tuple[Any, ...]]:
    """(x, [series], *y, complete) rows, ordered as the chart or table shows them."""
    columns, order = _chart_columns(chart)
    return view.select(columns, chart.filters, order)


def tile_rows(view: ViewRows, tile: Tile) -> list[tuple[Any, ...]]:
    """(date, complete, *measures) rows of a tile's view."""
    return view.select(
        [tile.date, tile.complete or ALWAYS_COMPLETE, *tile.measures], {}, [tile.date]
    )


def data_as_of(bq: bigquery.Client, view_id: str) -> dt.datetime | None:
    """When the newest transaction the warehouse holds happened: the pages' as-of time."""
    _, rows = warehouse.query_rows(bq, f"select max(as_of_at) from `{view_id}`")
    return rows[0][0] if rows else None


@dataclass(frozen=True)
class DashboardData:
    tiles: dict[Tile, TileValue]
    charts: list[list[tuple[Any, ...]]]  # in the order of dashboard.charts
    anomalies: list[Anomaly]


def read_dashboard(views_read: dict[str, ViewRows], dashboard: Dashboard) -> DashboardData:
    tiles, found = {}, []
    for tile in dashboard.tiles:
        rows = tile_rows(views_read[tile.view], tile)
        tiles[tile] = tile_value(tile, rows)
        found += anomalies(dashboard.name, tile, rows)
    charts_data = [chart_rows(views_read[c.view], c) for c in dashboard.charts]
    return DashboardData(tiles, charts_data, found)


@dataclass(frozen=True)
class PageContext:
    """What every page of one build shares."""

    lang: str
    glossary: Glossary
    descriptions: dict[str, dict[str, str]]
    as_of: dt.datetime | None
    built_at: dt.datetime
    dashboards: list[Dashboard]
    anomalies: list[Anomaly]
    data_docs: str | None = None  # the lake's GX Data Docs index, when built


def _direction(tile: Tile, result: TileValue) -> str:
    """good or bad by the tile's declared good direction; flat when neither applies."""
    if result.value is None or result.previous is None or tile.good == "neutral":
        return "flat"
    if result.value == result.previous:
        return "flat"
    return "good" if (result.value > result.previous) == (tile.good == "up") else "bad"


def _tile_html(tile: Tile, result: TileValue, ctx: PageContext) -> str:
    lang = ctx.lang
    change = format_change(
        result.value, result.previous, tile.format, lang, absolute=tile.change == "absolute"
    )
    direction = _direction(tile, result)
    end = (
        format_period(result.period_end, _is_month(tile.view, tile.date), lang)
        if result.period_end
        else format_value(None, "", lang)
    )
    period = (
        f"{_word('newest', lang)} ({end})"
        if tile.aggregate == "last"
        else _word("days", lang, n=tile.period_days, end=end)
    )
    flagged = [a for a in ctx.anomalies if a.tile == tile]
    warning = "".join(
        f"<p class='warning' role='alert'>{_word('warning', lang)}"
        f"{_word(a.rule + '_rule', lang)} ({a.date.isoformat()})</p>"
        for a in flagged
    )
    raw = "" if result.value is None else repr(result.value)
    return (
        f"<div class='tile{' flagged' if flagged else ''}' data-tile='{html.escape(tile.title.en)}' "
        f"data-value='{raw}'><div class='tile-title'>{html.escape(tile.title(lang))}</div>"
        f"<div class='tile-value'>{format_value(result.value, tile.format, lang)}</div>"
        f"<div class='delta {direction}'>{html.escape(change)}</div>"
        f"<div class='tile-period'>{html.escape(period)}</div>{warning}"
        f"<p class='definition'>{html.escape(tile.definition(lang))}</p></div>"
    )


def _is_month(view: str, column: str) -> bool:
    """A monthly view's date columns stand for months, but for month-end snapshots."""
    return view.endswith("_monthly") and not column.endswith("_month_end")


def _cell(value: Any, kind: str, monthly: bool, ctx: PageContext) -> str:
    if isinstance(value, str):
        return html.escape(ctx.glossary.value(value, ctx.lang))
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return html.escape(format_period(value, monthly, ctx.lang))
    return html.escape(format_value(value, kind, ctx.lang))


def _table_html(chart: Chart, rows: list[tuple[Any, ...]], ctx: PageContext) -> str:
    columns = [chart.x, *([chart.series] if chart.series else []), *chart.y]
    described = ctx.descriptions.get(chart.view, {})
    head = "".join(
        f"<th scope='col' title='{html.escape(described.get(c, ''))}'>"
        f"{html.escape(ctx.glossary.column(c, ctx.lang))}</th>"
        for c in columns
    )
    body = []
    for *values, complete in rows:
        cells = [
            _cell(v, chart.format_of(c), _is_month(chart.view, c), ctx)
            for c, v in zip(columns, values, strict=True)
        ]
        if not complete:
            cells[0] += html.escape(_word("partial", ctx.lang))
        marker = "" if complete else " class='partial'"
        body.append(f"<tr{marker}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        f"<table class='data'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _since(chart: Chart, rows: list[tuple[Any, ...]], days: int | None) -> int | None:
    dates = [row[0] for row in rows if isinstance(row[0], dt.date)]
    if not days or not dates:
        return None
    return (max(dates) - dt.timedelta(days=days - 1) - charts.EPOCH).days * 86_400_000


def _chart_html(index: int, chart: Chart, rows: list[tuple[Any, ...]], ctx: PageContext) -> str:
    lang = ctx.lang
    title = html.escape(chart.title(lang))
    card = f"<div class='card chart-card' data-chart='{html.escape(chart.title.en)}'"
    if chart.type == "table":
        return f"{card} data-rendered='true'><h3>{title}</h3>{_table_html(chart, rows, ctx)}</div>"
    spec = charts.vega_lite(chart, rows, ctx.glossary, lang)
    since = _since(chart, rows, chart.date_range_days)
    for param in spec["params"]:
        if param["name"] == "since":
            param["value"] = since
    names = list(dict.fromkeys(r["series"] for r in spec["data"]["values"]))
    toggles = "".join(
        f"<button type='button' aria-pressed='true' data-series='{html.escape(n)}'>"
        f"{html.escape(n)}</button>"
        for n in names
    )
    controls = (
        f"<div class='controls' role='group' aria-label='{_word('series', lang)}'>{toggles}</div>"
        if len(names) > 1
        else ""
    )
    if any(isinstance(row[0], dt.date) for row in rows) and charts.grain_of(chart) == "day":
        ranges: list[tuple[int | None, str]] = [
            (30, _word("range_days", lang, n=30)),
            (90, _word("range_days", lang, n=90)),
            (None, _word("all", lang)),
        ]
        buttons = "".join(
            f"<button type='button' aria-pressed='{str(days == chart.date_range_days).lower()}'"
            f" data-since='{_since(chart, rows, days) if days else ''}'>{label}</button>"
            for days, label in ranges
        )
        controls += (
            f"<div class='controls ranges' role='group' aria-label='{_word('range', lang)}'>"
            f"{buttons}</div>"
        )
    payload = json.dumps(spec, ensure_ascii=False).replace("</", "<\\/")
    return (
        f"{card} data-source='chart-spec-{index}'><h3>{title}</h3>{controls}"
        f"<div class='chart-body' role='img' aria-label='{title}'></div>"
        f"<script type='application/json' id='chart-spec-{index}'>{payload}</script></div>"
    )


def _anomalies_html(ctx: PageContext) -> str:
    lang = ctx.lang
    if not ctx.anomalies:
        return (
            f"<section class='anomalies'><h2>{_word('anomalies', lang)}</h2>"
            f"<p class='ok'>{_word('no_anomalies', lang)}</p></section>"
        )
    titles = {d.name: d.title(lang) for d in ctx.dashboards}
    head = "".join(f"<th scope='col'>{h}</th>" for h in ANOMALY_HEADERS[lang])
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(v)}</td>"
            for v in (
                titles[a.dashboard],
                a.tile.title(lang),
                a.tile.view,
                a.date.isoformat(),
                format_value(a.value, a.tile.format, lang),
                _word(a.rule + "_rule", lang),
            )
        )
        + "</tr>"
        for a in ctx.anomalies
    )
    return (
        f"<section class='anomalies'><h2>{_word('anomalies', lang)}</h2>"
        f"<table class='data' data-anomalies='{len(ctx.anomalies)}'><thead><tr>{head}</tr>"
        f"</thead><tbody>{rows}</tbody></table></section>"
    )


def _head(title: str, lang: str) -> str:
    return (
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_asset('dashboard.css')}</style></head>"
    )


def render(dashboard: Dashboard, data: DashboardData, ctx: PageContext) -> str:
    lang = ctx.lang
    nav = " · ".join(
        f"<a href='{d.name}.html'>{html.escape(d.title(lang))}</a>" for d in ctx.dashboards
    )
    sections = []
    index = 0
    for page in dashboard.pages:
        parts = [f"<section><h2>{html.escape(page.title(lang))}</h2>"]
        if page.tiles:
            tiles = "".join(_tile_html(t, data.tiles[t], ctx) for t in page.tiles)
            parts.append(f"<div class='tiles'>{tiles}</div>")
        for chart in page.charts:
            parts.append(_chart_html(index, chart, data.charts[index], ctx))
            index += 1
        parts.append("</section>")
        sections.append("".join(parts))
    if dashboard.name == "data_health":
        sections.insert(0, _anomalies_html(ctx))
        if ctx.data_docs:
            sections.insert(
                0,
                f"<p class='meta data-docs'><a href='{html.escape(ctx.data_docs)}'>"
                f"{_word('data_docs', lang)}</a></p>",
            )
    locale = {
        "formatLocale": FORMAT_LOCALES[lang],
        "timeFormatLocale": vl_convert.get_time_format_locale(TIME_LOCALES[lang]),
    }
    return (
        _head(dashboard.title(lang), lang)
        + f"<body><nav><a href='index.html'>{_word('dashboards', lang)}</a> · {nav}</nav>"
        f"<h1>{html.escape(dashboard.title(lang))}</h1>"
        f"<p class='meta'><span class='as-of'>{as_of_text(ctx.as_of, lang)}</span> · "
        f"{_word('owner', lang)}: {html.escape(dashboard.owner)} · {_word('audience', lang)}: "
        f"{html.escape(dashboard.audience)} · {_word('built', lang)} "
        f"{ctx.built_at:%Y-%m-%d %H:%M} UTC {_word('aggregates', lang)} · "
        f"<a href='looker/{dashboard.name}.md'>{_word('looker', lang)}</a></p>"
        f"<p class='meta'>{_word('partial_note', lang)}</p>{''.join(sections)}"
        f"<script type='application/json' id='vega-locale'>{json.dumps(locale, ensure_ascii=False)}"
        f"</script><script src='{VEGA_BUNDLE}'></script>"
        f"<script>{_asset('dashboard.js')}</script></body></html>"
    )


def _index(ctx: PageContext) -> str:
    lang = ctx.lang
    items = "".join(
        f"<li><a href='{d.name}.html'>{html.escape(d.title(lang))}</a> — "
        f"{html.escape(d.audience)}</li>"
        for d in ctx.dashboards
    )
    return (
        _head(_word("dashboards", lang), lang)
        + f"<body><h1>{_word('dashboards', lang)}</h1><p class='meta'>"
        f"{as_of_text(ctx.as_of, lang)} · {_word('built', lang)} {ctx.built_at:%Y-%m-%d %H:%M}"
        f" UTC</p><ul class='index'>{items}</ul></body></html>"
    )


def _write_bundle(out_dir: Path) -> Path:
    """The Vega, Vega-Lite and Vega-Embed libraries for offline pages, matching the
    Vega-Lite version Altair writes specs for; rebuilt only when that version changes."""
    version = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    path = out_dir / VEGA_BUNDLE
    stamp = f"// vega-lite {version}, vl-convert bundle\n"
    if not path.exists() or not path.read_text(encoding="utf-8").startswith(stamp):
        path.write_text(
            stamp + vl_convert.javascript_bundle(GLOBALS, vl_version=version), encoding="utf-8"
        )
    return path


@dataclass(frozen=True)
class Snapshot:
    """Everything the pages show, read from the warehouse once for every language."""

    dashboards: list[Dashboard]
    glossary: Glossary
    descriptions: dict[str, dict[str, str]]
    as_of: dt.datetime | None
    data: dict[str, DashboardData]

    @property
    def anomalies(self) -> list[Anomaly]:
        return [a for d in self.dashboards for a in self.data[d.name].anomalies]


def read_warehouse(settings: WarehouseSettings) -> Snapshot:
    """Every tile and chart of every dashboard; refuses dashboards that name missing
    columns or show columns without a label."""
    bq = warehouse.client(settings)
    dashboards = load_dashboards()
    glossary = load_glossary()
    problems = check_against_views(dashboards, deployed_columns(bq, settings))
    problems += [
        f"column {c} has no label in dashboards/glossary.yaml"
        for c in unlabelled_columns(dashboards, glossary)
    ]
    if problems:
        raise CardlakeError("dashboards do not match the views: " + "; ".join(problems))
    ids = _view_ids(settings)
    definitions = {v.name: v for v in views.view_definitions()}
    views_read = read_views(bq, ids, dashboards)
    return Snapshot(
        dashboards=dashboards,
        glossary=glossary,
        descriptions={name: v.metadata.columns for name, v in definitions.items()},
        as_of=data_as_of(bq, ids["int_data_as_of"]),
        data={d.name: read_dashboard(views_read, d) for d in dashboards},
    )


def write_pages(
    out_dir: Path, snapshot: Snapshot, settings: WarehouseSettings, lang: str
) -> list[Path]:
    """index.html, the Vega bundle, and one page and one Looker Studio build sheet per
    dashboard, in one language."""
    ctx = PageContext(
        lang=lang,
        glossary=snapshot.glossary,
        descriptions=snapshot.descriptions,
        as_of=snapshot.as_of,
        built_at=dt.datetime.now(dt.UTC),
        dashboards=snapshot.dashboards,
        anomalies=snapshot.anomalies,
        data_docs=data_docs_link(),
    )
    (out_dir / "looker").mkdir(parents=True, exist_ok=True)
    written = [out_dir / "index.html", _write_bundle(out_dir)]
    written[0].write_text(_index(ctx), encoding="utf-8")
    for dashboard in snapshot.dashboards:
        path = out_dir / f"{dashboard.name}.html"
        path.write_text(render(dashboard, snapshot.data[dashboard.name], ctx), encoding="utf-8")
        sheet = out_dir / "looker" / f"{dashboard.name}.md"
        sheet.write_text(
            looker.build_sheet(dashboard, settings, snapshot.glossary), encoding="utf-8"
        )
        written += [path, sheet]
    return written


def data_docs_link(lake: str | None = None) -> str | None:
    """The lake's Data Docs index (written by `cardlake run`) as a link, or None when
    there is none or the lake cannot be read from here."""
    store = Store(lake or lake_location())
    try:
        found = data_docs_index(store)
    except CardlakeError:
        return None
    if found is None:
        return None
    return Path(found).as_uri() if store.is_local else found


def build_all(out_dir: Path, settings: WarehouseSettings, lang: str = "ja") -> list[Path]:
    """The whole offline build in one language."""
    return write_pages(out_dir, read_warehouse(settings), settings, lang)
