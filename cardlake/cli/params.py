"""Parsers for option values, so a bad value is one line that says what was wrong."""

from __future__ import annotations

import datetime as dt

import typer


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a whole number") from None


def positive_int(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise typer.BadParameter(f"{value} is not a positive number")
    return value


def port(text: str) -> int:
    value = whole_number(text)
    if not 0 <= value <= 65535:
        raise typer.BadParameter(f"{value} is not a TCP port (0-65535)")
    return value


def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date like 2026-06-30") from None


def utc_timestamp(text: str) -> dt.datetime:
    """A naive UTC timestamp, like the source's DATETIME(6) columns and the watermarks."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a timestamp like 2026-11-30T09:00:00 (UTC unless it names a zone)"
        ) from None
    return value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def language(text: str) -> str:
    from dashboards.spec import LANGUAGES

    if text not in LANGUAGES:
        raise typer.BadParameter(f"{text!r} is not one of {', '.join(LANGUAGES)}")
    return text


def clock_time(text: str | dt.time) -> dt.time:
    """A wall-clock time HH:MM (24-hour); a default arrives already parsed."""
    if isinstance(text, dt.time):
        return text
    try:
        if len(text) != 5 or text[2] != ":":
            raise ValueError(text)
        return dt.time(int(text[:2]), int(text[3:]))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a time like 02:30 (HH:MM, 24-hour)") from None
