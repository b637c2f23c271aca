"""Looker Studio Linking API URLs: each dashboard's template report, bound to the views.

Opening the URL creates a copy of the template report whose BigQuery data sources point
at the deployed views of the configured project; the user saves it with "Edit and share".
A data source alias (`ds.<alias>.*`) must match the alias of that data source in the
template report; the aliases come from `looker_studio.data_sources` in the dashboard's
YAML, or default to the view names.
"""

from __future__ import annotations

import os
from urllib.parse import urlencode

from dashboards.spec import Chart, Dashboard, Glossary, Tile
from etl.settings import WarehouseSettings
from etl.views import deploy as views

LINKING_API = "https://lookerstudio.google.com/reporting/create"


def template_report_id(dashboard: Dashboard) -> str:
    """CARDLAKE_LOOKER_TEMPLATE_<NAME> overrides the id in the dashboard's YAML."""
    return os.environ.get(
        f"CARDLAKE_LOOKER_TEMPLATE_{dashboard.name.upper()}", dashboard.looker_template_report_id
    )


def data_sources(dashboard: Dashboard) -> dict[str, str]:
    declared = dashboard.looker_data_sources
    return declared or {view: view for view in dashboard.views}


def linking_url(dashboard: Dashboard, settings: WarehouseSettings) -> str:
    definitions = {v.name: v for v in views.view_definitions()}
    params = {"r.reportName": f"cardlake - {dashboard.title.en}"}
    template = template_report_id(dashboard)
    if template:
        params["c.reportId"] = template
    for alias, view in data_sources(dashboard).items():
        definition = definitions[view]
        params |= {
            f"ds.{alias}.connector": "bigQuery",
            f"ds.{alias}.type": "TABLE",
            f"ds.{alias}.projectId": settings.project,
            f"ds.{alias}.datasetId": settings.datasets[definition.dataset_key],
            f"ds.{alias}.tableId": view,
            f"ds.{alias}.datasourceName": f"cardlake {view}",
        }
    return f"{LINKING_API}?{urlencode(params)}"


CHART_KINDS = {
    "line": "Time series chart (or Line chart for a numeric x)",
    "bar": "Column chart",
    "stacked_bar": "Stacked column chart",
    "table": "Table",
}


def _aggregation(column: str) -> str:
    """Rates, shares, medians and averages are one value per row: never summed. Averaged
    only at the view's own grain; a coarser grouping needs a calculated field from counts."""
    per_row = column.endswith(("_rate", "_rate_30d")) or column.startswith(("median_", "average_"))
    if per_row or "share" in column:
        return "AVG, at the view's grain only"
    return "SUM"


def _tile_field(tile: Tile) -> str:
    if tile.aggregate == "ratio":
        numerator = " + ".join(f"SUM({c})" for c in tile.numerator)
        denominator = " + ".join(f"SUM({c})" for c in tile.denominator)
        return f"calculated field: ({numerator}) / ({denominator})"
    if tile.aggregate == "last":
        return f"{tile.metric} (MAX), date range: the newest complete {tile.date}"
    return f"{tile.metric} (SUM)"


def _tile_range(tile: Tile) -> str:
    if tile.aggregate == "last":
        return ""
    return (
        f"; date range: the last {tile.period_days} days ending yesterday (Asia/Tokyo), "
        f"compared with the {tile.period_days} days before"
    )


def _labels(column: str, glossary: Glossary) -> str:
    if column not in glossary.columns:
        return ""
    return f"{glossary.column(column, 'en')} / {glossary.column(column, 'ja')}: "


def _comparison(tile: Tile) -> str:
    if tile.format == "percent":
        return "absolute change, shown in points"
    return "absolute change" if tile.change == "absolute" else "percent change"


def _chart_lines(chart: Chart, glossary: Glossary) -> list[str]:
    filters = (
        [f"{chart.complete} = true (or a second series for partial periods)"]
        if chart.complete
        else []
    )
    filters += [f"{column} = {value}" for column, value in chart.filters.items()]
    metrics = ", ".join(
        f"{c} ({_aggregation(c)}, label '{glossary.column(c, 'en')}')" for c in chart.y
    )
    lines = [
        f"- **{chart.title.en}** / {chart.title.ja}: {CHART_KINDS[chart.type]}",
        f"  - dimension: {chart.x}" + (f", breakdown: {chart.series}" if chart.series else ""),
        f"  - metrics: {metrics}",
        f"  - filters: {'; '.join(filters) or 'none'}",
    ]
    if chart.date_range_days:
        lines.append(f"  - default date range: last {chart.date_range_days} days")
    return lines


def build_sheet(dashboard: Dashboard, settings: WarehouseSettings, glossary: Glossary) -> str:
    """What a person needs to make the dashboard's Looker Studio template once: data
    sources, fields, calculated fields, chart types and filters. The template's id then
    goes into looker_studio.template_report_id in the dashboard's YAML."""
    definitions = {v.name: v for v in views.view_definitions()}
    lines = [
        f"# Looker Studio build sheet: {dashboard.title.en} / {dashboard.title.ja}",
        "",
        f"Source of truth: `{dashboard.path}`. Build the report once, then put its id into "
        "`looker_studio.template_report_id` there (or `CARDLAKE_LOOKER_TEMPLATE_"
        f"{dashboard.name.upper()}`); `cardlake dashboards links` then copies it per project.",
        "",
        "## Data sources (BigQuery connector, one per view)",
    ]
    for alias, view in data_sources(dashboard).items():
        definition = definitions[view]
        table = f"{settings.project}.{settings.datasets[definition.dataset_key]}.{view}"
        lines += [f"- alias `{alias}`: `{table}` ({definition.metadata.grain})", "  - fields:"]
        lines += [
            f"    - `{column}`: {_labels(column, glossary)}{description}"
            for column, description in definition.metadata.columns.items()
        ]
    for page in dashboard.pages:
        lines += ["", f"## Page: {page.title.en} / {page.title.ja}"]
        for tile in page.tiles:
            lines += [
                f"- **{tile.title.en}** / {tile.title.ja}: Scorecard on `{tile.view}`, "
                f"{_tile_field(tile)}{_tile_range(tile)}"
                + (f"; filter {tile.complete} = true" if tile.complete else "")
                + f"; comparison: previous period ({_comparison(tile)})",
                f"  - definition: {tile.definition.en}",
            ]
        for chart in page.charts:
            lines += _chart_lines(chart, glossary)
    return "\n".join(lines) + "\n"
