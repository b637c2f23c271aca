"""Vega-Lite specs of the declared charts, built with Altair (which validates them).

Every chart reads one long table: x, series, value and whether the period is complete.
Missing dates are filled with nulls, so a line breaks at a gap instead of dropping to
zero; partial periods are left out of lines and drawn as hollow points or faded bars.
Two parameters let the page's own buttons hide series and narrow the date range.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import altair as alt

from dashboards.formats import D3_FORMATS
from dashboards.spec import Chart, Glossary

EPOCH = dt.date(1970, 1, 1)
PARTIAL = {"ja": "途中（未確定）", "en": "partial period"}
PERIOD = {"ja": "期間", "en": "Period"}
SERIES = {"ja": "系列", "en": "Series"}
VALUE = {"ja": "値", "en": "Value"}
# Axis and tooltip date formats by grain and language (dates are UTC-anchored).
AXIS_DATES = {
    ("day", "ja"): "%-m/%-d",
    ("day", "en"): "%b %-d",
    ("month", "ja"): "%Y/%-m",
    ("month", "en"): "%b %Y",
}
TOOLTIP_DATES = {"day": "%Y-%m-%d", "month": "%Y-%m"}
COMPLETE = {"ja": "確定", "en": "complete"}


def _next(date: dt.date, grain: str) -> dt.date:
    if grain == "day":
        return date + dt.timedelta(days=1)
    month_end = date.month != (date + dt.timedelta(days=1)).month
    first_of_next = (date.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    if not month_end:
        return first_of_next
    return (first_of_next + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def grain_of(chart: Chart) -> str:
    return "month" if chart.view.endswith("_monthly") else "day"


def long_rows(
    chart: Chart, rows: list[tuple[Any, ...]], glossary: Glossary, lang: str
) -> list[dict[str, Any]]:
    """Query rows (x, [series], *y, complete) as one record per x and series, with the
    dates a series misses filled in as nulls."""
    records: dict[tuple[Any, str], dict[str, Any]] = {}
    series_names: dict[str, None] = {}
    for x, *rest in rows:
        *measures, complete = rest
        if chart.series:
            name, *measures = measures
            label = name.strftime("%Y-%m") if isinstance(name, dt.date) else name
            pairs = [(glossary.value(label, lang), measures[0])]
        else:
            pairs = [(glossary.column(c, lang), v) for c, v in zip(chart.y, measures, strict=True)]
        for name, value in pairs:
            series_names[name] = None
            records[(x, name)] = {
                "x": x,
                "series": name,
                "value": None if value is None else float(value),
                "complete": bool(complete),
            }
    xs = sorted({x for x, _ in records})
    if xs and isinstance(xs[0], dt.date):
        grid = [xs[0]]
        while grid[-1] < xs[-1]:
            grid.append(_next(grid[-1], grain_of(chart)))
        xs = grid
    out = []
    for x in xs:
        for rank, name in enumerate(series_names):
            record = records.get((x, name), {"x": x, "series": name, "value": None})
            complete = record.get("complete", True)
            value = record["value"]
            is_date = isinstance(x, dt.date)
            out.append(
                {
                    "x": x.isoformat() if is_date else x,
                    "t": (x - EPOCH).days * 86_400_000 if is_date else None,
                    "series": name,
                    # Stacks and legends keep the declared order in every language.
                    "rank": rank,
                    "value": value,
                    "line": value if complete else None,
                    "partial": None if complete else value,
                    "period": COMPLETE[lang] if complete else PARTIAL[lang],
                }
            )
    return out


def _x(
    chart: Chart, records: list[dict[str, Any]], title: str, lang: str
) -> tuple[alt.X, alt.Tooltip]:
    """A continuous time axis for dates (UTC, so a date is never shifted by a zone), else
    a whole-number axis."""
    if records and records[0]["t"] is not None:
        grain = grain_of(chart)
        unit: Literal["utcyearmonth", "utcyearmonthdate"] = (
            "utcyearmonth" if grain == "month" else "utcyearmonthdate"
        )
        axis = alt.Axis(format=AXIS_DATES[(grain, lang)], labelOverlap=True)
        return (
            alt.X("x:T", timeUnit=unit, title=title, axis=axis),
            alt.Tooltip("x:T", timeUnit=unit, title=title, format=TOOLTIP_DATES[grain]),
        )
    return (
        alt.X("x:Q", title=title, axis=alt.Axis(format="d", tickMinStep=1)),
        alt.Tooltip("x:Q", title=title),
    )


def vega_lite(
    chart: Chart, rows: list[tuple[Any, ...]], glossary: Glossary, lang: str
) -> dict[str, Any]:
    records = long_rows(chart, rows, glossary, lang)
    fmt = D3_FORMATS[chart.format]
    x, x_tooltip = _x(chart, records, glossary.column(chart.x, lang), lang)
    series_title = glossary.column(chart.series, lang) if chart.series else SERIES[lang]
    y_title = glossary.column(chart.y[0], lang) if len(chart.y) == 1 else ""
    several = len({r["series"] for r in records}) > 1
    color = alt.Color(
        "series:N",
        title=None if len(chart.y) > 1 else series_title,
        sort=None,
        legend=alt.Legend() if several else None,
    )
    tooltip = [
        x_tooltip,
        *(
            [alt.Tooltip("series:N", title=series_title)]
            if chart.series or len(chart.y) > 1
            else []
        ),
        alt.Tooltip("value:Q", title=y_title or VALUE[lang], format=fmt),
        alt.Tooltip("period:N", title=PERIOD[lang]),
    ]
    base = alt.Chart(alt.InlineData(values=records, name="chart")).transform_filter(
        "indexof(hidden, datum.series) < 0 && (since == null || datum.t == null"
        " || datum.t >= since)"
    )
    if chart.type == "line":
        y = alt.Y("line:Q", title=y_title, axis=alt.Axis(format=fmt))
        layers = alt.layer(
            base.mark_line(invalid="break-paths-show-domains").encode(x=x, y=y, color=color),
            base.mark_point(filled=True, size=28).encode(x=x, y=y, color=color, tooltip=tooltip),
            base.mark_point(filled=False, size=90, strokeWidth=2, strokeDash=[2, 2]).encode(
                x=x,
                y=alt.Y("partial:Q", title=y_title, axis=alt.Axis(format=fmt)),
                color=color,
                tooltip=tooltip,
            ),
        )
    else:
        layers = alt.layer(
            base.transform_filter("datum.value != null")
            .mark_bar()
            .encode(
                x=x,
                y=alt.Y(
                    "value:Q",
                    title=y_title,
                    axis=alt.Axis(format=fmt),
                    stack="zero" if chart.type == "stacked_bar" else None,
                ),
                color=color,
                order=alt.Order("rank:Q"),
                opacity=alt.condition(
                    "datum.period == '" + PARTIAL[lang] + "'", alt.value(0.35), alt.value(1.0)
                ),
                tooltip=tooltip,
            )
        )
    spec = (
        layers.add_params(alt.param(name="hidden", value=[]), alt.param(name="since", value=None))
        .properties(width="container", height=240)
        .configure_legend(orient="bottom", labelLimit=260)
        .configure_axis(labelLimit=180)
        .configure_view(stroke=None)
    )
    return spec.to_dict()
