"""dashboards/ without servers: the declared files, tile values over complete periods,
anomaly flags, number formats, the chart table with gaps and partial periods, and the
Looker Studio build sheet."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from dashboards import build, charts, looker
from dashboards.formats import format_change, format_period, format_value
from dashboards.kpis import anomalies, tile_value
from dashboards.spec import (
    Expectation,
    Text,
    Tile,
    _Reader,
    load_dashboards,
    load_glossary,
    unlabelled_columns,
)
from etl.errors import CardlakeError
from etl.settings import WarehouseSettings

DASHBOARDS = {d.name: d for d in load_dashboards()}
GLOSSARY = load_glossary()
DAY = dt.date(2026, 11, 1)


def _tile(**changes: object) -> Tile:
    base = Tile(
        title=Text("GMV", "取扱高"),
        definition=Text("d", "定義"),
        view="kpi_gmv_daily",
        date="business_date",
        aggregate="sum",
        period_days=3,
        format="yen",
        metric="gmv_jpy",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_the_four_dashboards_and_the_health_page_are_declared() -> None:
    assert set(DASHBOARDS) == {"executive", "acquisition", "spending", "credit_risk", "data_health"}


def test_every_shown_column_has_a_label_in_both_languages() -> None:
    assert unlabelled_columns(list(DASHBOARDS.values()), GLOSSARY) == []
    assert all(t.en and t.ja for t in [*GLOSSARY.columns.values(), *GLOSSARY.values.values()])


def test_a_title_without_japanese_names_the_file_and_item() -> None:
    reader = _Reader("dashboards/x.yaml")
    with pytest.raises(CardlakeError, match=r"dashboards/x.yaml: chart: title needs a text"):
        reader.chart({"title": {"en": "Only English"}, "type": "line"})


@pytest.mark.parametrize("value", [None, 0.5, [1]])
def test_a_chart_filter_is_a_bool_integer_or_string(value: object) -> None:
    title = {"en": "Roll rates", "ja": "ロールレート"}
    spec = {"title": title, "type": "line", "view": "v", "x": "x", "y": ["y"]}
    with pytest.raises(CardlakeError, match=r"'Roll rates'.*filter on flag must be true/false"):
        _Reader("dashboards/x.yaml").chart({**spec, "filters": {"flag": value}})


def test_tiles_count_complete_periods_only_and_compare_like_with_like() -> None:
    rows = [(DAY + dt.timedelta(days=i), i < 6, 100.0 * (i + 1)) for i in range(7)]
    # Day 7 is partial: the window is days 4-6, compared with days 1-3.
    result = tile_value(_tile(), rows)
    assert (result.value, result.previous, result.period_end) == (
        1500.0,
        600.0,
        DAY + dt.timedelta(days=5),
    )
    ratio = _tile(
        aggregate="ratio", metric=None, numerator=("a",), denominator=("a", "b"), format="percent"
    )
    rows = [
        # (date, complete, a, a, b): numerator a over denominator a + b.
        (DAY, True, 6, 6, 4),
        (DAY + dt.timedelta(days=3), True, 3, 3, 1),
        (DAY + dt.timedelta(days=4), False, 0, 0, 9),
    ]
    assert tile_value(ratio, rows).value == pytest.approx(0.75)


def test_anomalies_flag_values_outside_the_range_and_large_moves() -> None:
    rows = [(DAY + dt.timedelta(days=i), True, v) for i, v in enumerate([100.0, 110, 300, 120])]
    assert anomalies("d", _tile(expect=Expectation(min=0, max=1000)), rows) == []
    [low] = anomalies("d", _tile(expect=Expectation(min=1000)), rows)
    assert (low.rule, low.date, low.value) == ("range", DAY + dt.timedelta(days=3), 530.0)
    moves = anomalies("d", _tile(expect=Expectation(max_move=0.5)), rows)
    assert [(a.rule, a.date) for a in moves] == [
        ("move", DAY + dt.timedelta(days=2)),
        ("move", DAY + dt.timedelta(days=3)),
    ]


def test_numbers_print_in_japanese_and_english_never_as_raw_floats() -> None:
    assert format_value(159_919_170.0, "yen", "ja") == "159,919,170円"
    assert format_value(159_919_170.0, "yen", "en") == "¥159,919,170"
    assert format_value(0.959626481, "percent", "ja") == "96.0%"
    assert format_value(9_000_000_000_000, "count", "en") == "9,000,000,000,000"
    assert format_value(None, "yen", "ja") == "該当なし"
    assert format_change(0.63, 0.60, "percent", "en") == "+3.0 pt vs previous period"
    assert format_change(105.0, 100.0, "yen", "en") == "▲ 5.0% vs previous period"
    assert format_change(1.0, None, "yen", "ja") == "比較期間なし"
    # From a tiny base a relative change reads as alarm (▲ 1442.7%): such tiles say yen.
    assert format_change(1_187_410, 77_000, "yen", "en", absolute=True) == (
        "+¥1,110,410 vs previous period"
    )
    assert format_period(dt.date(2026, 11, 1), True, "ja") == "2026年11月"
    assert format_period(dt.date(2026, 11, 1), True, "en") == "Nov 2026"
    assert format_period(dt.date(2026, 11, 30), False, "en") == "2026-11-30"


def test_chart_rows_fill_missing_dates_with_nulls_and_split_partial_periods() -> None:
    [chart] = [c for c in DASHBOARDS["executive"].charts if c.view == "kpi_gmv_daily"]
    rows = [
        (DAY, 10.0, True),
        (DAY + dt.timedelta(days=2), 30.0, True),
        (DAY + dt.timedelta(days=3), 5.0, False),
    ]
    records = charts.long_rows(chart, rows, GLOSSARY, "en")
    assert [(r["x"], r["line"], r["partial"]) for r in records] == [
        ("2026-11-01", 10.0, None),
        ("2026-11-02", None, None),
        ("2026-11-03", 30.0, None),
        ("2026-11-04", None, 5.0),
    ]
    assert {r["series"] for r in records} == {"GMV"}


def test_month_end_charts_step_from_month_end_to_month_end() -> None:
    [chart] = [c for c in DASHBOARDS["executive"].charts if c.view == "kpi_delinquency_monthly"]
    rows = [(dt.date(2026, 8, 31), 0.1, 0.02, True), (dt.date(2026, 11, 30), 0.1, 0.03, False)]
    xs = sorted({r["x"] for r in charts.long_rows(chart, rows, GLOSSARY, "ja")})
    assert xs == ["2026-08-31", "2026-09-30", "2026-10-31", "2026-11-30"]


def test_the_chart_spec_is_valid_vega_lite_with_the_page_parameters() -> None:
    chart = DASHBOARDS["executive"].charts[1]
    spec = charts.vega_lite(chart, [(DAY, 3, 40, True)], GLOSSARY, "ja")
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")
    assert {p["name"] for p in spec["params"]} == {"hidden", "since"}
    assert {r["series"] for r in spec["data"]["values"]} == {
        "当日の利用会員数",
        "30日間の利用会員数",
    }


def test_the_looker_build_sheet_names_sources_fields_charts_and_filters() -> None:
    settings = WarehouseSettings("acme", "asia-northeast1", "raw", "stg", "mart", "ops", None)
    sheet = looker.build_sheet(DASHBOARDS["executive"], settings, GLOSSARY)
    assert "alias `funnel`: `acme.mart.kpi_application_funnel_daily`" in sheet
    assert "calculated field: (SUM(approved)) / (SUM(approved) + SUM(rejected))" in sheet
    assert "Time series chart" in sheet and "filter is_mature = true" in sheet
    assert re.search(r"`gmv_jpy`: GMV / 取扱高: ", sheet)
    assert "template_report_id" in sheet
    assert "date range: the last 30 days ending yesterday" in sheet
    assert "approval_rate (AVG, at the view's grain only" in sheet


def test_a_view_read_once_serves_each_chart_as_its_own_query_would() -> None:
    view = build.ViewRows(
        {"day": 0, "flag": 1, "amount": 2},
        [
            (DAY, True, 3.0),
            (None, True, 1.0),
            (DAY - dt.timedelta(days=1), False, 2.0),
            (DAY, None, 4.0),
        ],
    )
    # Ascending with NULLs first, as BigQuery orders; `= true` drops false and NULL rows.
    assert view.select(["day", "amount"], {}, ["day", "amount"]) == [
        (None, 1.0),
        (DAY - dt.timedelta(days=1), 2.0),
        (DAY, 3.0),
        (DAY, 4.0),
    ]
    assert view.select(["amount", build.ALWAYS_COMPLETE], {"flag": True}, ["amount"]) == [
        (1.0, True),
        (3.0, True),
    ]
