"""What the CLI prints: tables (Rich, East Asian widths), progress and plain values."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import sys
import time
from collections.abc import Iterator, Sequence
from typing import IO, Any

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

MEASURE_WIDTH = 10_000  # columns a piped table may take before Rich folds a cell


def plain_value(value: Any) -> Any:
    """A value as a reader expects it: integral NUMERICs (ids, yen) print as integers,
    dates and times in ISO form, bytes (tokens) as hex."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value.normalize())
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return value


def _cell(value: Any, group_digits: bool) -> str:
    if value is None:
        return "NULL"
    if group_digits and isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _numbers_only(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, int | float | decimal.Decimal) and not isinstance(v, bool) for v in present
    )


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], group_digits: bool = True
) -> Table:
    """Columns of numbers right-aligned; widths measured as a terminal draws them (CJK).

    Counts print as 1,234; values from data (ids, query results) pass group_digits=False.
    """
    numeric = [_numbers_only([r[i] for r in rows]) for i in range(len(headers))]
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, highlight=False)
    for header, is_number in zip(headers, numeric, strict=True):
        grid.add_column(header, justify="right" if is_number else "left", overflow="fold")
    for row in rows:
        grid.add_row(*(_cell(v, group_digits) for v in row))
    return grid


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    file: IO[str] | None = None,
    group_digits: bool = True,
) -> None:
    grid = table(headers, rows, group_digits)
    console = Console(file=file or sys.stdout, highlight=False)
    if not console.is_terminal:
        # Piped or captured: no terminal width to fit, so never wrap a cell.
        # Measured unbounded: Rich would clamp it to the terminal's width (or COLUMNS, else 80)
        # even when piped, and fold long paths.
        unbounded = console.options.update_width(MEASURE_WIDTH)
        width = Measurement.get(console, unbounded, grid).maximum
        console = Console(
            file=file or sys.stdout, width=max(width, 1), highlight=False, color_system=None
        )
    console.print(grid)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The table `print_table` prints, as text (for messages and tests)."""
    console = Console(width=MEASURE_WIDTH, highlight=False, color_system=None)
    with console.capture() as captured:
        console.print(table(headers, rows))
    return "\n".join(line.rstrip() for line in captured.get().splitlines())


console = Console(highlight=False)  # writes to whatever sys.stdout is at print time


class Stages:
    """Numbered stages of long work: `[2/7] seed the primary ...` then `done (3.1s)`.

    On a terminal a spinner runs while a stage works; piped, each stage is two plain lines.
    """

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    @contextlib.contextmanager
    def stage(self, title: str) -> Iterator[None]:
        self.done += 1
        label = f"[{self.done}/{self.total}] {title}"
        started = time.perf_counter()
        if console.is_terminal:
            with console.status(f"{label} ..."):
                yield
            console.print(f"{label}  [green]done[/] ({time.perf_counter() - started:.1f}s)")
            return
        print(f"{label} ...", flush=True)
        yield
        print(f"      done ({time.perf_counter() - started:.1f}s)", flush=True)


def step(message: str) -> None:
    """One line of progress inside a stage (a table's read, load or a view's deploy)."""
    console.print(f"  {message}", markup=False, soft_wrap=True)
