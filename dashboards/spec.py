"""Declared dashboards (dashboards/*.yaml): pages of KPI tiles and charts over KPI views.

    name: executive
    title: {en: Executive KPIs, ja: 経営ダッシュボード}
    owner: data-platform (cardlake)
    audience: management
    looker_studio: {template_report_id: "", data_sources: {gmv: kpi_gmv_daily}}  # optional
    pages:
      - title: {en: Overview, ja: 概況}
        tiles:
          - title: {en: GMV, ja: 取扱高}
            definition: {en: ..., ja: ...}   # the KPI's definition, shown on the tile
            view: kpi_gmv_daily
            date: business_date
            metric: gmv_jpy                  # or numerator: [..] and denominator: [..]
            aggregate: sum                   # sum | ratio (of sums) | last
            period_days: 30
            format: yen                      # yen | count | percent | hours | text
            good: up                         # up | down | neutral: the change's colour
            change: relative                 # or absolute (amounts from a tiny base); rates
                                             # always change in points
            complete: is_complete            # the view's column that marks usable periods
            expect: {min: 0, max: 1e12, max_move: 0.5}   # anomaly flags, all optional
        charts:
          - {title: {en: Daily GMV, ja: 日次取扱高}, view: kpi_gmv_daily, type: line,
             x: business_date, y: [gmv_jpy], series: null, filters: {}, date_range_days: 90,
             format: yen, formats: {}, complete: is_complete}

Tiles aggregate the last `period_days` of complete periods (or take the newest complete
value) and compare with the period before. Dashboards may read only kpi_ and mart_ views:
aggregates, never tokens or other masked columns. Labels of columns and category values
are in glossary.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from etl.errors import CardlakeError

LANGUAGES = ("ja", "en")
AGGREGATES = {"sum", "ratio", "last"}
CHART_TYPES = {"line", "bar", "stacked_bar", "table"}
FORMATS = {"yen", "count", "percent", "hours", "text"}
DIRECTIONS = {"up", "down", "neutral"}
CHANGES = {"relative", "absolute"}
MASKED_SUFFIXES = ("_token", "_token_key_version", "_bin6", "_last4")
COMPLETENESS = "is_complete"


@dataclass(frozen=True)
class Text:
    """A label in every language the pages are built in."""

    en: str
    ja: str

    def __call__(self, lang: str) -> str:
        return self.ja if lang == "ja" else self.en


@dataclass(frozen=True)
class Expectation:
    """A plausible range of a tile's value, and its largest plausible move between two
    consecutive complete periods (relative, or in points for percentages)."""

    min: float | None = None
    max: float | None = None
    max_move: float | None = None


@dataclass(frozen=True)
class Tile:
    title: Text
    definition: Text
    view: str
    date: str
    aggregate: str
    period_days: int
    format: str
    metric: str | None = None
    numerator: tuple[str, ...] = ()
    denominator: tuple[str, ...] = ()
    good: str = "neutral"
    change: str = "relative"
    complete: str | None = COMPLETENESS
    expect: Expectation = Expectation()

    @property
    def measures(self) -> list[str]:
        return [self.metric] if self.metric else [*self.numerator, *self.denominator]

    @property
    def columns(self) -> list[str]:
        return [self.date, *([self.complete] if self.complete else []), *self.measures]


@dataclass(frozen=True)
class Chart:
    title: Text
    view: str
    type: str
    x: str
    y: tuple[str, ...]
    format: str
    series: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    date_range_days: int | None = None
    formats: dict[str, str] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    complete: str | None = COMPLETENESS

    @property
    def columns(self) -> list[str]:
        series = [self.series] if self.series else []
        complete = [self.complete] if self.complete else []
        return [self.x, *series, *self.y, *self.filters, *self.order, *complete]

    def format_of(self, column: str) -> str:
        return self.formats.get(column, self.format)


@dataclass(frozen=True)
class Page:
    title: Text
    tiles: tuple[Tile, ...]
    charts: tuple[Chart, ...]


@dataclass(frozen=True)
class Dashboard:
    name: str
    path: str
    title: Text
    owner: str
    audience: str
    pages: tuple[Page, ...]
    looker_template_report_id: str = ""
    looker_data_sources: dict[str, str] = field(default_factory=dict)

    @property
    def tiles(self) -> list[Tile]:
        return [t for page in self.pages for t in page.tiles]

    @property
    def charts(self) -> list[Chart]:
        return [c for page in self.pages for c in page.charts]

    @property
    def views(self) -> list[str]:
        items: list[Tile | Chart] = [*self.tiles, *self.charts]
        return list(dict.fromkeys(item.view for item in items))


@dataclass(frozen=True)
class Glossary:
    columns: dict[str, Text]
    values: dict[str, Text]

    def column(self, name: str, lang: str) -> str:
        return self.columns[name](lang) if name in self.columns else name

    def value(self, value: Any, lang: str) -> str:
        text = str(value)
        return self.values[text](lang) if text in self.values else text


def _completeness(spec: dict[str, Any]) -> str | None:
    """KPI views mark their complete periods; the ops views (mart_) are snapshots."""
    default = COMPLETENESS if str(spec.get("view", "")).startswith("kpi_") else None
    return spec.get("complete", default)


class _Reader:
    """Reads one YAML file's dicts, naming the file and item in every error."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, message: str) -> CardlakeError:
        return CardlakeError(f"dashboard {self.path}: {message}")

    def text(self, spec: dict[str, Any], key: str, where: str) -> Text:
        value = spec.get(key)
        if (
            not isinstance(value, dict)
            or set(value) != set(LANGUAGES)
            or not all(isinstance(value[k], str) for k in LANGUAGES)
        ):
            raise self.fail(
                f"{where}: {key} needs a text in each of {', '.join(LANGUAGES)} and nothing "
                f"else (quote a text that holds a comma), not {value!r}"
            )
        return Text(en=value["en"], ja=value["ja"])

    def choice(self, spec: dict[str, Any], key: str, default: str, allowed: set[str]) -> str:
        value = spec.get(key, default)
        if value not in allowed:
            raise self.fail(f"{spec.get('title')!r}: {key} is one of {sorted(allowed)}")
        return str(value)

    def expectation(self, spec: dict[str, Any]) -> Expectation:
        expect = spec.get("expect") or {}
        unknown = set(expect) - {"min", "max", "max_move"}
        if unknown:
            raise self.fail(f"{spec.get('title')!r}: expect takes min, max and max_move")
        return Expectation(**{k: float(v) for k, v in expect.items()})

    def tile(self, spec: dict[str, Any]) -> Tile:
        aggregate = self.choice(spec, "aggregate", "sum", AGGREGATES)
        if (aggregate == "ratio") != ("numerator" in spec and "denominator" in spec):
            raise self.fail(f"tile {spec.get('title')!r}: a ratio takes numerator and denominator")
        title = self.text(spec, "title", "tile")
        return Tile(
            title=title,
            definition=self.text(spec, "definition", f"tile {title.en!r}"),
            view=spec["view"],
            date=spec["date"],
            aggregate=aggregate,
            period_days=int(spec.get("period_days", 30)),
            format=self.choice(spec, "format", "count", FORMATS),
            metric=spec.get("metric"),
            numerator=tuple(spec.get("numerator", ())),
            denominator=tuple(spec.get("denominator", ())),
            good=self.choice(spec, "good", "neutral", DIRECTIONS),
            change=self.choice(spec, "change", "relative", CHANGES),
            complete=_completeness(spec),
            expect=self.expectation(spec),
        )

    def chart(self, spec: dict[str, Any]) -> Chart:
        chart_type = self.choice(spec, "type", "", CHART_TYPES)
        formats = dict(spec.get("formats") or {})
        for column, kind in formats.items():
            if kind not in FORMATS:
                raise self.fail(f"{spec.get('title')!r}: format of {column} is one of {FORMATS}")
        filters = dict(spec.get("filters") or {})
        for column, value in filters.items():
            # Matched in Python against the view's values (build.ViewRows): no NULL, float
            # or date literal, whose SQL comparison Python's == would not reproduce.
            if not isinstance(value, bool | int | str):
                raise self.fail(
                    f"{spec.get('title')!r}: filter on {column} must be true/false, an "
                    f"integer or a string, not {value!r}"
                )
        return Chart(
            title=self.text(spec, "title", "chart"),
            view=spec["view"],
            type=chart_type,
            x=spec["x"],
            y=tuple(spec["y"]),
            format=self.choice(spec, "format", "count", FORMATS),
            series=spec.get("series"),
            filters=filters,
            date_range_days=spec.get("date_range_days"),
            formats=formats,
            order=tuple(spec.get("order") or ()),
            complete=_completeness(spec),
        )

    def dashboard(self, doc: dict[str, Any]) -> Dashboard:
        pages = tuple(
            Page(
                self.text(page, "title", "page"),
                tuple(self.tile(t) for t in page.get("tiles") or ()),
                tuple(self.chart(c) for c in page.get("charts") or ()),
            )
            for page in doc["pages"]
        )
        looker = doc.get("looker_studio") or {}
        return Dashboard(
            name=doc["name"],
            path=self.path,
            title=self.text(doc, "title", "dashboard"),
            owner=doc["owner"],
            audience=doc["audience"],
            pages=pages,
            looker_template_report_id=str(looker.get("template_report_id") or ""),
            looker_data_sources=dict(looker.get("data_sources") or {}),
        )


def load_dashboards() -> list[Dashboard]:
    """Every dashboard declared in the package's YAML files (the glossary aside)."""
    dashboards = []
    files = sorted(resources.files("dashboards").iterdir(), key=lambda f: f.name)
    for file in files:
        if not file.name.endswith(".yaml") or file.name == "glossary.yaml":
            continue
        reader = _Reader(f"dashboards/{file.name}")
        try:
            dashboards.append(reader.dashboard(yaml.safe_load(file.read_text(encoding="utf-8"))))
        except KeyError as missing:
            raise reader.fail(f"missing {missing}") from None
    return dashboards


def load_glossary() -> Glossary:
    doc = yaml.safe_load(
        resources.files("dashboards").joinpath("glossary.yaml").read_text(encoding="utf-8")
    )
    reader = _Reader("dashboards/glossary.yaml")
    return Glossary(
        columns={name: reader.text(doc["columns"], name, name) for name in doc["columns"]},
        values={name: reader.text(doc["values"], name, name) for name in doc["values"]},
    )


def _item_problems(where: str, item: Tile | Chart, view_columns: dict[str, list[str]]) -> list[str]:
    if not item.view.startswith(("kpi_", "mart_")):
        return [f"{where}: reads {item.view}; dashboards read kpi_/mart_ views only"]
    if item.view not in view_columns:
        return [f"{where}: view {item.view} is not in warehouse_sql/"]
    problems = []
    for column in dict.fromkeys(item.columns):
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
                where = (
                    f"dashboard {dashboard.name}, page {page.title.en!r}, {kind} {item.title.en!r}"
                )
                problems += _item_problems(where, item, view_columns)
        for alias, view in dashboard.looker_data_sources.items():
            if view not in dashboard.views:
                problems.append(
                    f"dashboard {dashboard.name}: Looker Studio data source {alias} names "
                    f"{view}, which no chart or tile reads"
                )
    return problems


def unlabelled_columns(dashboards: list[Dashboard], glossary: Glossary) -> list[str]:
    """Columns a page shows (axes, legends, headers, tile measures) with no glossary label."""
    shown: dict[str, None] = {}
    for dashboard in dashboards:
        for chart in dashboard.charts:
            shown |= dict.fromkeys([chart.x, *([chart.series] if chart.series else []), *chart.y])
        for tile in dashboard.tiles:
            shown |= dict.fromkeys(tile.measures)
    return [c for c in shown if c not in glossary.columns]
