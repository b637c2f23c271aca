"""Source-vs-warehouse reconciliation after each load, per table and business-date partition.

Counts rows and sums every money/measure column on the replica and in the loaded raw
table, over the partitions the load touched and the rows the extraction window covered
(cursor below the window's upper bound), and appends the comparison to
`ops.reconciliation`. Rows changed on the source after the window show as differences
until the next run picks them up. Duplicate primary keys in the warehouse are counted
too (the source, by definition, has none).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, replace
from decimal import Decimal

from etl.contracts.manifest import TableManifest
from etl.errors import CardlakeError
from etl.extract.endpoint import Endpoint
from etl.extract.source import ExtractWindow, connect, sql_timestamp
from etl.load import opstables
from etl.load.raw_tables import RawTable
from etl.load.warehouse import Warehouse, partition_filter, raw_table_id
from etl.settings import BUSINESS_TIMEZONE


@dataclass(frozen=True)
class Reconciliation:
    table: str
    partitions: int
    mismatched_partitions: tuple[dt.date | None, ...]

    @property
    def summary(self) -> str:
        if not self.mismatched_partitions:
            return f"{self.partitions} partition(s) match"
        return (
            f"{len(self.mismatched_partitions)} of {self.partitions} partition(s) differ "
            "(see ops.reconciliation)"
        )


@dataclass(frozen=True, kw_only=True)
class LoadedScope:
    """What a run loaded: rows below its window's upper bound, in the partitions it touched."""

    manifest: TableManifest
    raw: RawTable
    source_types: dict[str, str]
    window: ExtractWindow
    partitions: tuple[dt.date | None, ...]
    run_id: str


def _measures(manifest: TableManifest) -> list[str]:
    return [
        c.name for c in manifest.columns.values() if c.klass == "measure" and c.action == "keep"
    ]


def _business_date_sql(manifest: TableManifest, source_types: dict[str, str]) -> str:
    """The business date on MariaDB: its time-zone tables are not assumed to be loaded."""
    column = manifest.business_date
    assert column is not None
    if source_types[column].lower().startswith("date") and "time" not in source_types[column]:
        return f"`{column}`"
    zone = zoneinfo.ZoneInfo(BUSINESS_TIMEZONE)
    offsets = {zone.utcoffset(dt.datetime(2026, month, 1)) for month in (1, 7)}
    if len(offsets) != 1:
        raise CardlakeError(f"reconciliation needs a fixed-offset business zone, not {zone}")
    minutes = int(offsets.pop().total_seconds() // 60)  # type: ignore[union-attr]
    return f"DATE(`{column}` + INTERVAL {minutes} MINUTE)"


def _source_side(endpoint: Endpoint, scope: LoadedScope) -> dict[dt.date | None, list[Decimal]]:
    manifest, window, partitions = scope.manifest, scope.window, scope.partitions
    measures = _measures(manifest)
    date_sql = (
        _business_date_sql(manifest, scope.source_types) if manifest.business_date else "NULL"
    )
    # Whole partitions up to the window's upper bound: its lower bound does not apply.
    upper_bound = replace(window, lower=None).predicate()
    sums = "".join(f", COALESCE(SUM(`{m}`), 0)" for m in measures)
    with connect(endpoint) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {date_sql} AS business_date, COUNT(*){sums} FROM `{manifest.table}` "
            f"WHERE {upper_bound} GROUP BY 1"
        )
        rows = cur.fetchall()
    wanted = set(partitions)
    return {
        row[0]: [Decimal(v) for v in row[1:]]
        for row in rows
        if not manifest.business_date or row[0] in wanted
    }


def _warehouse_side(target: Warehouse, scope: LoadedScope) -> dict[dt.date | None, list[Decimal]]:
    manifest, raw, window, partitions = scope.manifest, scope.raw, scope.window, scope.partitions
    measures = _measures(manifest)
    keys = ", '|', ".join(f"cast(`{k}` as string)" for k in raw.primary_key)
    where = ["true"]
    if window.cursor and window.upper is not None:
        where.append(f"`{window.cursor}` < timestamp '{sql_timestamp(window.upper)}+00:00'")
    if raw.partition_field:
        where.append(partition_filter("", raw, partitions))
    date_sql = f"`{raw.partition_field}`" if raw.partition_field else "cast(null as date)"
    sums = "".join(f", coalesce(sum(`{m}`), 0)" for m in measures)
    table_id = raw_table_id(target.settings, raw)
    result = target.client.query(
        f"select {date_sql} as business_date, count(*){sums}, "
        f"count(*) - count(distinct concat({keys})) "
        f"from `{table_id}` where {' and '.join(where)} group by 1"
    ).result()
    return {row[0]: [Decimal(v) for v in row[1:]] for row in result}


def reconcile(endpoint: Endpoint, target: Warehouse, scope: LoadedScope) -> Reconciliation:
    manifest, partitions, run_id = scope.manifest, scope.partitions, scope.run_id
    source = _source_side(endpoint, scope)
    loaded = _warehouse_side(target, scope)
    metrics = ["rows", *(f"sum({m})" for m in _measures(manifest))]
    zero = [Decimal(0)] * (len(metrics) + 1)
    checked_at = dt.datetime.now(dt.UTC)
    records = []
    mismatched = []
    days = sorted(set(source) | set(loaded) | set(partitions), key=lambda d: (d is not None, d))
    for day in days:
        source_values = [*source.get(day, zero[:-1]), Decimal(0)]
        warehouse_values = loaded.get(day, zero)
        differs = False
        for metric, expected, actual in zip(
            [*metrics, "duplicate_keys"], source_values, warehouse_values, strict=True
        ):
            differs |= expected != actual
            records.append(
                {
                    "run_id": run_id,
                    "checked_at": checked_at,
                    "table_name": manifest.table,
                    "business_date": day,
                    "metric": metric,
                    "source_value": expected,
                    "warehouse_value": actual,
                    "matches": expected == actual,
                }
            )
        if differs:
            mismatched.append(day)
    opstables.append(
        target.client,
        target.settings,
        "reconciliation",
        records,
        f"cardlake_reconcile_{manifest.table}_{run_id}",
    )
    return Reconciliation(manifest.table, len(days), tuple(mismatched))
