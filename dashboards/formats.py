"""Numbers as the pages print them, in ja-JP or en: the same rules in Python (tiles,
tables) and as d3 format strings with a locale for Vega-Lite (axes, tooltips)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

JST = dt.timezone(dt.timedelta(hours=9), "JST")
# d3-format locales: yen after the number in Japanese (1,234円), before it in English (¥1,234).
FORMAT_LOCALES: dict[str, dict[str, Any]] = {
    "ja": {"decimal": ".", "thousands": ",", "grouping": [3], "currency": ["", "円"]},
    "en": {"decimal": ".", "thousands": ",", "grouping": [3], "currency": ["¥", ""]},
}
D3_FORMATS = {"yen": "$,.0f", "count": ",.0f", "percent": ".1%", "hours": ",.1f", "text": ""}
HOURS = {"ja": "時間", "en": "h"}
NO_VALUE = {"ja": "該当なし", "en": "n/a"}


def format_value(value: Any, kind: str, lang: str) -> str:
    """One value as a tile or table cell shows it; never a raw float."""
    if value is None:
        return NO_VALUE[lang]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool | str):
        return str(value)
    number = float(value) if isinstance(value, Decimal) else value
    if kind == "yen":
        return f"{number:,.0f}円" if lang == "ja" else f"¥{number:,.0f}"
    if kind == "percent":
        return f"{number * 100:.1f}%"
    if kind == "hours":
        return f"{number:,.1f} {HOURS[lang]}"
    if isinstance(number, float) and not number.is_integer() and kind == "text":
        return f"{number:,.4g}"
    return f"{number:,.0f}"


def format_change(
    value: float | None, previous: float | None, kind: str, lang: str, absolute: bool = False
) -> str:
    """A change against the previous period: in points for rates; for amounts relative, or
    absolute where the base can be tiny (a few yen past due last month)."""
    if value is None or previous is None:
        return "比較期間なし" if lang == "ja" else "no earlier period"
    versus = "前期間比" if lang == "ja" else "vs previous period"
    if kind == "percent":
        points = (value - previous) * 100
        return f"{points:+.1f} pt {versus}"
    if absolute:
        sign = "+" if value >= previous else "-"
        return f"{sign}{format_value(abs(value - previous), kind, lang)} {versus}"
    if previous == 0:
        return "比較期間はゼロ" if lang == "ja" else "previous period was zero"
    change = (value - previous) / abs(previous)
    arrow = "▲" if change > 0 else "▼" if change < 0 else "■"
    return f"{arrow} {abs(change) * 100:.1f}% {versus}"


def moved(value: float, previous: float, kind: str) -> float | None:
    """How far a value moved from the previous one: points for rates, else relative."""
    if kind == "percent":
        return abs(value - previous) * 100
    if previous == 0:
        return None
    return abs(value - previous) / abs(previous)


def format_period(date: dt.date, monthly: bool, lang: str) -> str:
    """A date, or the month it stands for in a monthly view (2026年11月, Nov 2026)."""
    if not monthly:
        return date.isoformat()
    return f"{date.year}年{date.month}月" if lang == "ja" else date.strftime("%b %Y")


def as_of_text(as_of: dt.datetime | None, lang: str) -> str:
    if as_of is None:
        return "データなし" if lang == "ja" else "no data"
    stamp = as_of.astimezone(JST).strftime("%Y-%m-%d %H:%M JST")
    return f"データ基準: {stamp}" if lang == "ja" else f"data as of {stamp}"
