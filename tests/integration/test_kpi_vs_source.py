"""Each KPI family, read from its views over the demo data, equals the same KPI computed
independently in Python straight from the source database (rows in, arithmetic here)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from etl.load import warehouse
from tests.support.credit import (
    DEPTH,
    credit_book,
    data_as_of,
    jst_date,
    month_end,
    month_start,
    signed,
    source_rows,
)
from tests.support.session import LoadedWarehouse

pytestmark = [pytest.mark.stack, pytest.mark.spark, pytest.mark.warehouse]


ViewReader = Callable[[str, str], list[tuple[Any, ...]]]


@pytest.fixture(scope="module")
def view(loaded_warehouse: LoadedWarehouse) -> ViewReader:
    """Rows of a view over the end-to-end datasets."""
    settings = loaded_warehouse.settings
    bq = warehouse.client(settings)

    def read(name: str, columns: str) -> list[tuple[Any, ...]]:
        dataset = (
            settings.mart_dataset if name.startswith(("kpi_", "mart_")) else settings.stg_dataset
        )
        _, rows = warehouse.query_rows(
            bq, f"select {columns} from `{settings.project}.{dataset}.{name}`"
        )
        return rows

    return read


def _months_between(earlier: dt.date, later: dt.date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def _ratio(numerator: Any, denominator: Any) -> float | None:
    return None if not denominator else float(numerator) / float(denominator)


def _same(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, float):
        return math.isclose(float(actual), expected, rel_tol=1e-8, abs_tol=1e-8)
    if isinstance(expected, Decimal | int) and not isinstance(expected, bool):
        return Decimal(actual) == Decimal(expected)
    return bool(expected == actual)


def _assert_view(
    view: ViewReader, name: str, columns: str, expected: dict[tuple[Any, ...], tuple[Any, ...]]
) -> None:
    """The view's rows, keyed by their leading columns, equal the expected ones."""
    assert expected, f"{name}: the demo data must produce rows"
    keys = len(next(iter(expected)))
    actual = {tuple(r[:keys]): tuple(r[keys:]) for r in view(name, columns)}
    assert set(actual) == set(expected), f"{name}: keys differ"
    for key, values in expected.items():
        got = actual[key]
        assert all(_same(e, a) for e, a in zip(values, got, strict=True)), (
            f"{name} {key}: expected {values}, view has {got}"
        )


def _percentile(values: list[float], q: float) -> float:
    """BigQuery's percentile_cont: linear between the closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def test_data_as_of(view: ViewReader) -> None:
    [(newest,)] = source_rows("SELECT MAX(transacted_at) FROM transactions")
    [(as_of_at, as_of_date)] = view("int_data_as_of", "as_of_at, as_of_date")
    assert as_of_at.replace(tzinfo=None) == newest
    assert as_of_date == jst_date(newest) == data_as_of()


def test_application_funnel(view: ViewReader) -> None:
    cards: dict[int, list[tuple[dt.datetime, dt.datetime | None]]] = defaultdict(list)
    for application_id, issued_at, activated_at in source_rows(
        "SELECT application_id, issued_at, activated_at FROM cards"
    ):
        cards[int(application_id)].append((issued_at, activated_at))
    as_of = data_as_of()
    days: dict[dt.date, list[tuple[int, str, float | None]]] = defaultdict(list)
    for application_id, applied_at, status, decided_at in source_rows(
        "SELECT application_id, applied_at, status, decided_at FROM applications"
    ):
        hours = None if decided_at is None else (decided_at - applied_at).total_seconds() / 3600
        days[jst_date(applied_at)].append((int(application_id), status, hours))
    decided = [h for apps in days.values() for _, s, h in apps if h is not None and s != "pending"]
    maturity_days = math.ceil(_percentile(decided, 0.95) / 24)
    expected = {}
    for day, apps in days.items():
        statuses = [s for _, s, _ in apps]
        approved, rejected = statuses.count("approved"), statuses.count("rejected")
        hours = [h for _, _, h in apps if h is not None]
        issued = [c for a, _, _ in apps for c in cards[a]]
        activated = sum(1 for i, a in issued if a is not None and a - i <= dt.timedelta(days=30))
        expected[(day,)] = (
            day < as_of,
            (as_of - day).days > maturity_days,
            (as_of - day).days > maturity_days + 7 + 30,
            len(apps),
            approved,
            rejected,
            statuses.count("pending"),
            _ratio(approved, approved + rejected),
            statistics.median(hours) if hours else None,
            len(issued),
            _ratio(activated, len(issued)),
        )
    _assert_view(
        view,
        "kpi_application_funnel_daily",
        "application_date, is_complete, is_mature, is_activation_mature, applications, approved, "
        "rejected, pending, "
        "approval_rate, "
        "median_hours_to_decision, cards_issued, activation_rate_30d",
        expected,
    )
    # Plausible on the test seed: over complete, mature days about 60-75% are approved.
    rows = view("kpi_application_funnel_daily", "is_complete, is_mature, approved, rejected")
    approved = sum(a for c, m, a, _ in rows if c and m)
    decided_count = sum(a + r for c, m, a, r in rows if c and m)
    assert decided_count > 100
    assert 0.60 <= approved / decided_count <= 0.75, approved / decided_count


def _transactions() -> list[
    tuple[dt.date, int, str, Decimal, str, str | None, Decimal | None, int | None]
]:
    """(JST date, member, type, amount, design, support target, rate, target id) per txn."""
    return [
        (jst_date(ts), int(member), kind, amount, design, target, rate, target_id)
        for ts, member, kind, amount, design, target, rate, target_id in source_rows(
            "SELECT t.transacted_at, t.member_id, t.txn_type, t.amount, d.name, s.name, "
            "s.contribution_rate, s.support_target_id FROM transactions t "
            "JOIN cards c ON c.card_id = t.card_id "
            "JOIN card_designs d ON d.card_design_id = c.card_design_id "
            "LEFT JOIN support_targets s ON s.support_target_id = d.support_target_id"
        )
    ]


def _spending(
    group: Iterable[tuple[Any, int, str, Decimal]], complete: Callable[[Any], bool]
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    sums: dict[tuple[Any, ...], list[Any]] = {}
    for key, member, kind, amount in group:
        acc = sums.setdefault(key, [Decimal(0), 0, Decimal(0), set()])
        acc[0] += signed(kind, amount)
        if kind == "capture":
            acc[1] += 1
            acc[2] += amount
            acc[3].add(member)
    return {k: (complete(k[0]), g, n, _ratio(c, n), len(m)) for k, (g, n, c, m) in sums.items()}


def test_spending_by_day_and_month_per_design_and_target(view: ViewReader) -> None:
    txns = _transactions()
    as_of = data_as_of()
    columns = "is_complete, gmv_jpy, capture_count, average_ticket_jpy, active_cardholders"
    daily = _spending(
        (((d, design, target or "(none)"), m, k, a) for d, m, k, a, design, target, _, _ in txns),
        lambda day: day < as_of,
    )
    _assert_view(
        view, "kpi_spending_daily", f"business_date, card_design, support_target, {columns}", daily
    )
    monthly = _spending(
        (
            ((month_start(d), design, target or "(none)"), m, k, a)
            for d, m, k, a, design, target, _, _ in txns
        ),
        lambda month: month_end(month) < as_of,
    )
    _assert_view(
        view,
        "kpi_spending_monthly",
        f"spend_month, card_design, support_target, {columns}",
        monthly,
    )


def test_active_cardholders_daily_and_30_day(view: ViewReader) -> None:
    active_days: dict[dt.date, set[int]] = defaultdict(set)
    for day, member, kind, *_ in _transactions():
        if kind == "capture":
            active_days[day].add(member)
    first, last = min(active_days), data_as_of()
    expected = {}
    day = first
    while day <= last:
        window = set().union(
            *(active_days.get(day - dt.timedelta(days=n), set()) for n in range(30))
        )
        expected[(day,)] = (day < last, len(active_days.get(day, set())), len(window))
        day += dt.timedelta(days=1)
    _assert_view(
        view,
        "kpi_active_cardholders_daily",
        "business_date, is_complete, daily_active_cardholders, active_cardholders_30d",
        expected,
    )


def test_support_contributions(view: ViewReader) -> None:
    totals: dict[dt.date, Decimal] = defaultdict(Decimal)
    fan: dict[tuple[dt.date, str], list[Any]] = {}
    for day, _, kind, amount, _, target, rate, _ in _transactions():
        totals[month_start(day)] += signed(kind, amount)
        if target is not None:
            fan.setdefault((month_start(day), target), [Decimal(0), rate])[0] += signed(
                kind, amount
            )
    as_of = data_as_of()
    expected = {
        key: (
            month_end(key[0]) < as_of,
            rate,
            gmv,
            (gmv * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP),
            _ratio(gmv, totals[key[0]]),
        )
        for key, (gmv, rate) in fan.items()
    }
    _assert_view(
        view,
        "kpi_support_contributions_monthly",
        "spend_month, support_target, is_complete, contribution_rate, fan_card_gmv_jpy, "
        "contribution_jpy, "
        "share_of_total_gmv",
        expected,
    )


def test_repayments_by_channel_and_repayment_rate(view: ViewReader) -> None:
    statements = {
        int(i): (month, due, billed)
        for i, month, due, billed in source_rows(
            "SELECT statement_id, statement_month, due_date, billed_amount FROM statements"
        )
    }
    by_channel: dict[tuple[dt.date, str], list[Any]] = {}
    repaid: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for statement_id, channel, amount, paid_at in source_rows(
        "SELECT statement_id, channel, amount, paid_at FROM repayments"
    ):
        paid = jst_date(paid_at)
        acc = by_channel.setdefault((month_start(paid), channel), [0, Decimal(0)])
        acc[0] += 1
        acc[1] += amount
        repaid[int(statement_id)][0] += amount
        if paid <= statements[int(statement_id)][1]:
            repaid[int(statement_id)][1] += amount
    as_of = data_as_of()
    expected = {
        k: (month_end(k[0]) < as_of, n, total, _ratio(total, n))
        for k, (n, total) in by_channel.items()
    }
    _assert_view(
        view,
        "kpi_repayments_monthly",
        "repayment_month, channel, is_complete, repayments, repaid_amount_jpy, "
        "average_repayment_jpy",
        expected,
    )

    months: dict[dt.date, list[Any]] = {}
    due_dates: dict[dt.date, dt.date] = {}
    for statement_id, (month, due, billed) in statements.items():
        due_dates[month] = max(due, due_dates.get(month, due))
        acc = months.setdefault(month, [0, Decimal(0), Decimal(0), Decimal(0)])
        acc[0] += 1
        acc[1] += billed
        acc[2] += repaid[statement_id][0]
        acc[3] += repaid[statement_id][1]
    expected = {
        (m,): (
            due_dates[m] < as_of,
            n,
            billed,
            paid,
            on_time,
            _ratio(paid, billed),
            _ratio(on_time, billed),
        )
        for m, (n, billed, paid, on_time) in months.items()
    }
    _assert_view(
        view,
        "kpi_repayment_rate_monthly",
        "statement_month, is_complete, statements, billed_amount_jpy, repaid_amount_jpy, "
        "repaid_on_time_amount_jpy, repayment_rate, on_time_repayment_rate",
        expected,
    )


def test_delinquency_buckets_and_roll_rates(view: ViewReader) -> None:
    book = credit_book()
    as_of = book.as_of
    assert len(book.month_ends) >= 2, "the data must span a roll from one month end to the next"
    expected = {
        (end,): (
            end < as_of,
            b.receivables,
            b.billed_outstanding,
            b.unbilled,
            *(b.by_bucket[name] for name in DEPTH),
            b.past_due_1_plus,
            b.past_due_30_plus,
            len(b.cards_30_plus),
            _ratio(b.past_due_30_plus, b.receivables),
            _ratio(b.past_due_1_plus, b.receivables),
        )
        for end, b in book.month_ends.items()
    }
    _assert_view(view, "kpi_delinquency_monthly", DELINQUENCY_COLUMNS, expected)

    moves: dict[tuple[dt.date, str, str], list[Any]] = {}
    statuses = book.statuses
    for (statement_id, end), (bucket, balance) in statuses.items():
        following = month_end(end + dt.timedelta(days=1))
        if bucket == "paid" or (statement_id, following) not in statuses:
            continue
        acc = moves.setdefault(
            (following, bucket, statuses[(statement_id, following)][0]), [0, Decimal(0)]
        )
        acc[0] += 1
        acc[1] += balance
    from_totals: dict[tuple[dt.date, str], Decimal] = defaultdict(Decimal)
    for (end, origin, _), (_, balance) in moves.items():
        from_totals[(end, origin)] += balance
    expected = {
        key: (
            key[0] < as_of,
            DEPTH.index(key[1]),
            key[2] in DEPTH and DEPTH.index(key[2]) == DEPTH.index(key[1]) + 1,
            n,
            balance,
            _ratio(balance, from_totals[key[:2]]),
        )
        for key, (n, balance) in moves.items()
    }
    _assert_view(
        view,
        "kpi_roll_rates_monthly",
        "as_of_month_end, from_bucket, to_bucket, is_complete, from_bucket_order, "
        "is_roll_forward, statements, balance_jpy, roll_rate",
        expected,
    )


DELINQUENCY_COLUMNS = (
    "as_of_month_end, is_complete, receivables_jpy, billed_outstanding_jpy, "
    "unbilled_balance_jpy, current_balance_jpy, dpd_1_29_balance_jpy, dpd_30_59_balance_jpy, "
    "dpd_60_89_balance_jpy, dpd_90_plus_balance_jpy, dpd_1_plus_balance_jpy, "
    "dpd_30_plus_balance_jpy, delinquent_cards, delinquency_rate, dpd_1_plus_rate"
)


def test_credit_figures_are_plausible_at_complete_month_ends(view: ViewReader) -> None:
    """What credit staff expect of a card book, where the test seed can show it: 30+ days
    past due is a few percent of receivables, balances shrink with depth, and roll-forward
    rates rise with depth. (A bucket 30+ days past due exists only from the second month
    end after the first due date; see tests/unit/test_seed.py for a longer book.)"""
    rows = [
        r
        for r in view(
            "kpi_delinquency_monthly",
            "as_of_month_end, is_complete, receivables_jpy, current_balance_jpy, "
            "dpd_1_29_balance_jpy, dpd_30_59_balance_jpy, dpd_60_89_balance_jpy, "
            "dpd_90_plus_balance_jpy, delinquency_rate, dpd_1_plus_rate",
        )
        if r[1]
    ]
    assert len(rows) >= 2, "the test seed must have two complete month ends"
    for end, _, receivables, *buckets, rate_30, rate_1 in rows:
        assert receivables > 0, end
        assert buckets[0] > buckets[1], f"{end}: current must exceed 1-29 days past due"
        assert all(a >= b for a, b in itertools.pairwise(buckets)), f"{end}: {buckets}"
        assert 0 <= rate_30 <= 0.05, f"{end}: 30+ days past due {rate_30:.2%}"
        assert rate_30 <= rate_1 <= 0.15, f"{end}: 1+ days past due {rate_1:.2%}"
    from_totals: dict[tuple[dt.date, int], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    forward: dict[tuple[dt.date, int], float] = {}
    for end, complete, is_forward, order, n, balance, rate in view(
        "kpi_roll_rates_monthly",
        "as_of_month_end, is_complete, is_roll_forward, from_bucket_order, statements, "
        "balance_jpy, roll_rate",
    ):
        if complete:
            from_totals[(end, order)][0] += n
            from_totals[(end, order)][1] += balance
            if is_forward:
                forward[(end, order)] = rate
    # Rates from buckets with enough statements and balance to mean something.
    observable = {
        key: forward.get(key, 0.0)
        for key, (n, balance) in from_totals.items()
        if n >= 10 and balance >= 100_000
    }
    assert observable, "the test seed must roll enough current balance once"
    for (end, order), rate in observable.items():
        if order == 0:
            # A few percent of statements miss their due date; on the test seed's first roll
            # (a few dozen statements) one large statement moves the rate by several points.
            assert 0 < rate <= 0.25, f"{end}: {rate:.1%} of current balance rolled to 1-29"
        deeper = observable.get((end, order + 1))
        if deeper is not None:
            assert rate < deeper, f"{end}: roll-forward from depth {order} {rate:.1%} >= next"


def test_vintage_retention(view: ViewReader) -> None:
    signup = {
        int(m): month_start(jst_date(ts))
        for m, ts in source_rows("SELECT member_id, created_at FROM members")
    }
    active: dict[tuple[dt.date, int], set[int]] = defaultdict(set)
    for day, member, kind, *_ in _transactions():
        if kind == "capture":
            cohort = signup[member]
            offset = _months_between(cohort, day)
            active[(cohort, offset)].add(member)
    cohort_sizes: dict[dt.date, int] = defaultdict(int)
    for month in signup.values():
        cohort_sizes[month] += 1
    as_of = data_as_of()
    expected = {}
    for cohort, size in cohort_sizes.items():
        for offset in range(_months_between(cohort, month_start(as_of)) + 1):
            members = len(active[(cohort, offset)])
            month = _add_months(cohort, offset)
            expected[(cohort, offset)] = (
                month_end(month) < as_of,
                size,
                members,
                _ratio(members, size),
            )
    _assert_view(
        view,
        "kpi_vintage_retention_monthly",
        "signup_month, months_since_signup, is_complete, cohort_members, active_members, "
        "retention_rate",
        expected,
    )
    # Vintages decay: after the signup month (partial: cards still being issued), each
    # complete month keeps no more of a cohort than the month before.
    for (cohort, offset), (complete, _, _, rate) in expected.items():
        following = expected.get((cohort, offset + 1))
        if offset >= 1 and complete and following and following[0]:
            assert following[3] <= rate, f"{cohort} month {offset + 1} retains more than {offset}"


def _add_months(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def test_daily_gmv_equals_the_source(view: ViewReader) -> None:
    as_of = data_as_of()
    expected = {
        (day,): (day < as_of, Decimal(gmv))
        for day, gmv in source_rows(
            "SELECT DATE(transacted_at + INTERVAL 9 HOUR), "
            "SUM(CASE txn_type WHEN 'capture' THEN amount WHEN 'refund' THEN -amount ELSE 0 END) "
            "FROM transactions GROUP BY 1"
        )
    }
    _assert_view(view, "kpi_gmv_daily", "business_date, is_complete, gmv_jpy", expected)


def test_reconciliation_after_the_load_matches_every_partition(
    loaded_warehouse: LoadedWarehouse, view: ViewReader
) -> None:
    runs = loaded_warehouse.runs
    assert all(not r.reconciliation.mismatched_partitions for r in runs)
    rows = view(
        "mart_reconciliation_latest",
        "table_name, partitions_checked, partitions_mismatched, source_rows, warehouse_rows, "
        "status",
    )
    latest = {r[0]: r[1:] for r in rows}
    days = {
        d
        for (d,) in source_rows(
            "SELECT DISTINCT DATE(transacted_at + INTERVAL 9 HOUR) FROM transactions"
        )
    }
    for run in runs:
        _, mismatched, source_count, warehouse_count, state = latest[run.table]
        assert (mismatched, state) == (0, "ok"), run.table
        assert source_count == warehouse_count == run.rows_loaded, run.table
    assert latest["transactions"][0] == len(days)
