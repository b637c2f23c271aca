"""Declared dashboards (dashboards/*.yaml): pages of KPI tiles and charts over KPI views.

    name: executive
    title: Executive KPIs
    owner: data-platform (cardlake)
    audience: management
    looker_studio: {template_report_id: "", data_sources: {gmv: kpi_gmv_daily}}  # optional
    pages:
      - title: Overview
        tiles:
          - {title: GMV, view: kpi_gmv_daily, date: business_date, metric: gmv_jpy,
             aggregate: sum, period_days: 30, format: yen}
        charts:
          - {title: Daily GMV, view: kpi_gmv_daily, type: line, x: business_date,
             y: [gmv_jpy], series: null, filters: {}, date_range_days: 90, format: yen}

Tiles aggregate the last `period_days` up to the newest date (sum, or ratio of sums) or
take the newest value (last), and compare with the period before. Dashboards may read
only kpi_ and mart_ views: aggregates, never tokens or other masked columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from etl.errors import CardlakeError

DASHBOARD_DIR = Path(__file__).resolve().parent
AGGREGATES = {"sum", "ratio", "last"}
CHART_TYPES = {"line", "bar", "stacked_bar", "table"}
FORMATS = {"yen", "count", "percent", "hours", "text"}
MASKED_SUFFIXES = ("_token", "_token_key_version", "_bin6", "_last4")


@dataclass(frozen=True)
class Tile:
    title: str
    view: str
    date: str
    aggregate: str
    period_days: int
    format: str
    metric: str | None = None
    numerator: tuple[str, ...] = ()
    denominator: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return [
            self.date,
            *([self.metric] if self.metric else []),
            *self.numerator,
            *self.denominator,
        ]


@dataclass(frozen=True)
class Chart:
    title: str
    view: str
    type: str
    x: str
    y: tuple[str, ...]
    format: str
    series: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    date_range_days: int | None = None

    @property
    def columns(self) -> list[str]:
        return [self.x, *self.y, *([self.series] if self.series else []), *self.filters]


@dataclass(frozen=True)
class Page:
    title: str
    tiles: tuple[Tile, ...]
    charts: tuple[Chart, ...]


@dataclass(frozen=True)
class Dashboard:
    name: str
    path: Path
    title: str
    owner: str
    audience: str
    pages: tuple[Page, ...]
    looker_template_report_id: str = ""
    looker_data_sources: dict[str, str] = field(default_factory=dict)

    @property
    def views(self) -> list[str]:
        seen: dict[str, None] = {}
        for page in self.pages:
            items: list[Tile | Chart] = [*page.tiles, *page.charts]
            for item in items:
                seen.setdefault(item.view, None)
        return list(seen)


def _fail(path: Path, message: str) -> CardlakeError:
    return CardlakeError(f"dashboard {path}: {message}")


def _tile(path: Path, spec: dict[str, Any]) -> Tile:
    aggregate = spec.get("aggregate", "sum")
    if aggregate not in AGGREGATES:
        raise _fail(path, f"tile {spec.get('title')!r}: aggregate is one of {sorted(AGGREGATES)}")
    if (aggregate == "ratio") != ("numerator" in spec and "denominator" in spec):
        raise _fail(path, f"tile {spec.get('title')!r}: a ratio takes numerator and denominator")
    return Tile(
        title=spec["title"],
        view=spec["view"],
        date=spec["date"],
        aggregate=aggregate,
        period_days=int(spec.get("period_days", 30)),
        format=_format(path, spec),
        metric=spec.get("metric"),
        numerator=tuple(spec.get("numerator", ())),
        denominator=tuple(spec.get("denominator", ())),
    )


def _format(path: Path, spec: dict[str, Any]) -> str:
    value = spec.get("format", "count")
    if value not in FORMATS:
        raise _fail(path, f"{spec.get('title')!r}: format is one of {sorted(FORMATS)}")
    return str(value)


def _chart(path: Path, spec: dict[str, Any]) -> Chart:
    if spec.get("type") not in CHART_TYPES:
        raise _fail(path, f"chart {spec.get('title')!r}: type is one of {sorted(CHART_TYPES)}")
    return Chart(
        title=spec["title"],
        view=spec["view"],
        type=spec["type"],
        x=spec["x"],
        y=tuple(spec["y"]),
        format=_format(path, spec),
        series=spec.get("series"),
        filters=dict(spec.get("filters") or {}),
        date_range_days=spec.get("date_range_days"),
    )


def load_dashboards(directory: Path = DASHBOARD_DIR) -> list[Dashboard]:
    dashboards = []
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        try:
            pages = tuple(
                Page(
                    page["title"],
                    tuple(_tile(path, t) for t in page.get("tiles") or ()),
                    tuple(_chart(path, c) for c in page.get("charts") or ()),
                )
                for page in doc["pages"]
            )
            looker = doc.get("looker_studio") or {}
            dashboards.append(
                Dashboard(
                    doc["name"],
                    path,
                    doc["title"],
                    doc["owner"],
                    doc["audience"],
                    pages,
                    str(looker.get("template_report_id") or ""),
                    dict(looker.get("data_sources") or {}),
                )
            )
        except KeyError as missing:
            raise _fail(path, f"missing {missing}") from None
    return dashboards


def _item_problems(where: str, item: Tile | Chart, view_columns: dict[str, list[str]]) -> list[str]:
    if not item.view.startswith(("kpi_", "mart_")):
        return [f"{where}: reads {item.view}; dashboards read kpi_/mart_ views only"]
    if item.view not in view_columns:
        return [f"{where}: view {item.view} is not in warehouse_sql/"]
    problems = []
    for column in item.columns:
        if column.endswith(MASKED_SUFFIXES):
            problems.append(f"{where}: column {column} is a masked column")
        elif column not in view_columns[item.view]:
            problems.append(f"{where}: column {column} is not in view {item.view}")
    return problems


def check_against_views(
    dashboards: list[Dashboard], view_columns: dict[str, list[str]]
) -> list[str]:
    """Every view and column a dashboard names must exist; one message per problem."""
    problems = []
    for dashboard in dashboards:
        for page in dashboard.pages:
            items: list[tuple[str, Tile | Chart]] = [("tile", t) for t in page.tiles]
            items += [("chart", c) for c in page.charts]
            for kind, item in items:
                where = f"dashboard {dashboard.name}, page {page.title!r}, {kind} {item.title!r}"
                problems += _item_problems(where, item, view_columns)
        for alias, view in dashboard.looker_data_sources.items():
            if view not in dashboard.views:
                problems.append(
                    f"dashboard {dashboard.name}: Looker Studio data source {alias} names "
                    f"{view}, which no chart or tile reads"
                )
    return problems
