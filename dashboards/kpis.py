"""Tile values over complete periods only, and the anomaly flags their YAML declares."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

from dashboards.formats import moved
from dashboards.spec import Tile


@dataclass(frozen=True)
class TileValue:
    value: float | None
    previous: float | None
    period_end: dt.date | None


@dataclass(frozen=True)
class Anomaly:
    dashboard: str
    tile: Tile
    date: dt.date
    value: float
    rule: str


def _daily(tile: Tile, rows: list[tuple[Any, ...]]) -> dict[dt.date, list[float]]:
    """Rows (date, complete, *measures) of complete periods, summed per date."""
    by_date: dict[dt.date, list[float]] = {}
    for date, complete, *values in rows:
        if not complete:
            continue
        acc = by_date.setdefault(date, [0.0] * len(tile.measures))
        for i, value in enumerate(values):
            acc[i] += float(value or 0)
    return by_date


def _combine(tile: Tile, sums: list[float]) -> float | None:
    if tile.aggregate != "ratio":
        return sums[0]
    numerator = sum(sums[: len(tile.numerator)])
    denominator = sum(sums[len(tile.numerator) :])
    return numerator / denominator if denominator else None


def tile_value(tile: Tile, rows: list[tuple[Any, ...]]) -> TileValue:
    """The newest complete period (or value) of a tile and the one before it."""
    by_date = _daily(tile, rows)
    if not by_date:
        return TileValue(None, None, None)
    newest = max(by_date)
    period = dt.timedelta(days=tile.period_days)
    if tile.aggregate == "last":
        earlier = [d for d in by_date if d <= newest - period]
        previous = by_date[max(earlier)][0] if earlier else None
        return TileValue(by_date[newest][0], previous, newest)

    def window(end: dt.date) -> float | None:
        days = [d for d in by_date if end - period < d <= end]
        if not days:
            return None
        return _combine(tile, [sum(by_date[d][i] for d in days) for i in range(len(tile.measures))])

    return TileValue(window(newest), window(newest - period), newest)


def anomalies(dashboard: str, tile: Tile, rows: list[tuple[Any, ...]]) -> list[Anomaly]:
    """The tile's value outside its declared range, and every move between consecutive
    complete periods of its last window larger than declared."""
    expect = tile.expect
    result = tile_value(tile, rows)
    found = []
    if result.value is not None and result.period_end is not None:
        low = expect.min is not None and result.value < expect.min
        high = expect.max is not None and result.value > expect.max
        if low or high:
            found.append(Anomaly(dashboard, tile, result.period_end, result.value, "range"))
    if expect.max_move is None or result.period_end is None:
        return found
    by_date = _daily(tile, rows)
    start = result.period_end - dt.timedelta(days=tile.period_days)
    dates = sorted(d for d in by_date if d > start)
    for before, after in itertools.pairwise(dates):
        previous, value = _combine(tile, by_date[before]), _combine(tile, by_date[after])
        if previous is None or value is None:
            continue
        move = moved(value, previous, tile.format)
        if move is not None and move > expect.max_move:
            found.append(Anomaly(dashboard, tile, after, value, "move"))
    return found
