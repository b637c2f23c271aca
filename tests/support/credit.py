"""The credit book recomputed in Python straight from the source database: statement
balances by days past due and the unbilled spending at each month end, the way credit
staff define them. The KPI-view tests and the dashboard test both compare against it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from devstack import stack

JST = dt.timedelta(hours=9)
BUCKETS = ((30, "dpd_1_29"), (60, "dpd_30_59"), (90, "dpd_60_89"))
DEPTH = ("current", "dpd_1_29", "dpd_30_59", "dpd_60_89", "dpd_90_plus")
PAST_30 = DEPTH[2:]


def source_rows(sql: str) -> list[tuple[Any, ...]]:
    return stack.execute("primary", "app", sql)


def jst_date(ts: dt.datetime) -> dt.date:
    return (ts + JST).date()


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def signed(kind: str, amount: Decimal) -> Decimal:
    return amount if kind == "capture" else -amount if kind == "refund" else Decimal(0)


def data_as_of() -> dt.date:
    """The data's as-of date: the Tokyo date of the newest transaction; days before it are
    complete."""
    return max(jst_date(ts) for (ts,) in source_rows("SELECT transacted_at FROM transactions"))


def dpd_bucket(balance: Decimal, as_of: dt.date, due: dt.date) -> str:
    if balance <= 0:
        return "paid"
    if as_of <= due:
        return "current"
    late = (as_of - due).days
    return next((name for limit, name in BUCKETS if late < limit), "dpd_90_plus")


def month_ends(first: dt.date, as_of: dt.date) -> list[dt.date]:
    """Month ends from the month of `first` up to the as-of date."""
    ends = []
    end = month_end(first)
    while end <= as_of:
        ends.append(end)
        end = month_end(end + dt.timedelta(days=1))
    return ends


@dataclass
class MonthEndBook:
    """Receivables at one month end."""

    billed_outstanding: Decimal = Decimal(0)
    unbilled: Decimal = Decimal(0)
    by_bucket: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    cards_30_plus: set[int] = field(default_factory=set)

    @property
    def receivables(self) -> Decimal:
        return self.billed_outstanding + self.unbilled

    @property
    def past_due_1_plus(self) -> Decimal:
        return sum((self.by_bucket[b] for b in DEPTH[1:]), Decimal(0))

    @property
    def past_due_30_plus(self) -> Decimal:
        return sum((self.by_bucket[b] for b in PAST_30), Decimal(0))

    @property
    def rate_30_plus(self) -> float | None:
        receivables = self.receivables
        return float(self.past_due_30_plus / receivables) if receivables else None


@dataclass(frozen=True)
class Book:
    as_of: dt.date
    month_ends: dict[dt.date, MonthEndBook]
    # (statement id, month end) -> (bucket, balance), for roll rates.
    statuses: dict[tuple[int, dt.date], tuple[str, Decimal]]


def _unbilled(statements: list[tuple[Any, ...]], ends: list[dt.date]) -> dict[dt.date, Decimal]:
    """Captures - refunds up to each month end that no statement closed by then covers (a
    statement covers its card's transactions of its statement month, Tokyo dates)."""
    closing = {(int(card), month): closes for _, card, month, closes, *_ in statements}
    card_months: dict[tuple[int, dt.date], Decimal] = defaultdict(Decimal)
    for card, kind, amount, ts in source_rows(
        "SELECT card_id, txn_type, amount, transacted_at FROM transactions"
    ):
        card_months[(int(card), month_start(jst_date(ts)))] += signed(kind, amount)
    return {
        end: sum(
            (
                amount
                for (card, month), amount in card_months.items()
                if month <= end and not closing.get((card, month), dt.date.max) <= end
            ),
            Decimal(0),
        )
        for end in ends
    }


def credit_book() -> Book:
    """Every month end from the first transaction's month to the as-of date."""
    statements = source_rows(
        "SELECT statement_id, card_id, statement_month, closing_date, due_date, billed_amount "
        "FROM statements"
    )
    payments: dict[int, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for statement_id, amount, paid_at in source_rows(
        "SELECT statement_id, amount, paid_at FROM repayments"
    ):
        payments[int(statement_id)].append((jst_date(paid_at), amount))
    as_of = data_as_of()
    [(first_txn,)] = source_rows("SELECT MIN(transacted_at) FROM transactions")
    ends = month_ends(jst_date(first_txn), as_of)
    books = {
        end: MonthEndBook(unbilled=amount) for end, amount in _unbilled(statements, ends).items()
    }
    statuses: dict[tuple[int, dt.date], tuple[str, Decimal]] = {}
    for statement_id, card_id, _, closing, due, billed in statements:
        for end in ends:
            if closing > end:
                continue
            paid = sum((a for d, a in payments[int(statement_id)] if d <= end), Decimal(0))
            balance = max(billed - paid, Decimal(0))
            bucket = dpd_bucket(balance, end, due)
            statuses[(int(statement_id), end)] = (bucket, balance)
            book = books[end]
            book.billed_outstanding += balance
            book.by_bucket[bucket] += balance
            if bucket in PAST_30:
                book.cards_30_plus.add(int(card_id))
    return Book(as_of, books, statuses)


def delinquency_at(end: dt.date) -> MonthEndBook:
    return credit_book().month_ends[end]
