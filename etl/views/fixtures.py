"""SQL tests as data: one fixture per view, rows in and the view's expected rows out
(warehouse_sql/<layer>/<view>.fixture.yaml, next to the view's SQL).

    description: what the fixture exercises
    inputs:                         # raw tables by name, ops tables as ops.<name>
      transactions:
        - {transaction_id: 1, txn_type: capture, amount: 1000, business_date: 2026-05-01}
    expected:                       # the rows of the view the file is named after
      columns: [business_date, gmv_jpy]      # a kpi_ or mart_ view must list all its columns
      where: "business_date <= '2026-05-31'"  # optional
      rows:
        - [2026-05-01, 1000]

Inputs name only tables the view reads (directly or through the views it reads); columns an
input row leaves out are NULL. Each fixture gets its own datasets (`fx_<view>_raw`, ...), the
view is deployed there with what it reads, and its rows are compared as a multiset: YAML
floats (ratios) to 1e-9, everything else exactly.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from google.cloud import bigquery

from etl.contracts.manifest import TABLES, manifest_for
from etl.errors import CardlakeError
from etl.load.opstables import OPS_TABLES, bigquery_schema
from etl.load.raw_tables import SourceTypes, raw_table
from etl.load.warehouse import ensure_datasets
from etl.settings import SQL_DIR, WarehouseSettings
from etl.views.deploy import (
    FIXTURE_SUFFIX,
    LAYERS,
    ViewDefinition,
    deploy_views,
    view_columns,
    view_definitions,
    view_id,
)

ARROW_TYPE = {
    "STRING": pa.string(),
    "BYTES": pa.binary(),
    "INT64": pa.int64(),
    "FLOAT64": pa.float64(),
    "BOOL": pa.bool_(),
    "NUMERIC": pa.decimal128(38, 9),
    "BIGNUMERIC": pa.decimal256(76, 38),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True)
class ExpectedView:
    view: str
    columns: list[str]
    rows: list[list[Any]]
    where: str | None = None


@dataclass(frozen=True)
class Fixture:
    name: str  # the view's name; it also names the fixture's datasets
    path: Path
    inputs: dict[str, list[dict[str, Any]]]
    expected: ExpectedView
    description: str = ""


@dataclass(frozen=True)
class ViewCheck:
    fixture: str
    view: str
    missing: list[tuple[Any, ...]]
    unexpected: list[tuple[Any, ...]]

    @property
    def passed(self) -> bool:
        return not self.missing and not self.unexpected

    def describe(self) -> str:
        lines = [f"{self.fixture}: {self.view} differs from the expected rows"]
        lines += [f"  expected, not returned: {row}" for row in self.missing]
        lines += [f"  returned, not expected: {row}" for row in self.unexpected]
        return "\n".join(lines)


def _expected(path: Path, view: str, spec: Any) -> ExpectedView:
    if not isinstance(spec, dict) or not {"columns", "rows"} <= set(spec):
        raise CardlakeError(f"{path}: expected needs columns and rows (and optionally where)")
    check = ExpectedView(view, list(spec["columns"]), list(spec["rows"]), spec.get("where"))
    bad = [r for r in check.rows if len(r) != len(check.columns)]
    if bad:
        raise CardlakeError(f"{path}: rows need {len(check.columns)} values, got {bad[0]}")
    return check


def load_fixture(path: Path, view: ViewDefinition, sql_dir: Path = SQL_DIR) -> Fixture:
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or "expected" not in doc:
        raise CardlakeError(f"{path}: a fixture has inputs and expected (and a description)")
    inputs = doc.get("inputs") or {}
    read = tables_read(view.name, sql_dir)
    unread = sorted(set(inputs) - read)
    if unread:
        raise CardlakeError(
            f"{path}: {view.name} does not read input table(s) {', '.join(unread)} "
            f"(it reads {', '.join(sorted(read)) or 'no table'})"
        )
    expected = _expected(path, view.name, doc["expected"])
    description = " ".join(str(doc.get("description") or "").split())
    return Fixture(view.name, path, inputs, expected, description)


def fixture_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    return [p for layer in LAYERS for p in sorted((sql_dir / layer).glob(f"*{FIXTURE_SUFFIX}"))]


def load_fixtures(sql_dir: Path = SQL_DIR) -> list[Fixture]:
    """Every view's fixture, in dependency order; a fixture names a view next to it."""
    views = {v.name: v for v in view_definitions(sql_dir)}
    by_view: dict[str, Path] = {}
    for path in fixture_files(sql_dir):
        name = path.name.removesuffix(FIXTURE_SUFFIX)
        if name not in views or views[name].path.parent != path.parent:
            raise CardlakeError(f"{path}: a fixture for no view (no {name}.sql next to it)")
        by_view[name] = path
    return [
        load_fixture(by_view[name], view, sql_dir)
        for name, view in views.items()
        if name in by_view
    ]


def tables_read(view: str, sql_dir: Path = SQL_DIR) -> set[str]:
    """Raw and ops tables (ops.<name>) a view reads, itself or through the views it reads."""
    return {t for v in view_definitions(sql_dir, only=[view]) for t in v.reads_tables}


def fixture_settings(base: WarehouseSettings, fixture: Fixture) -> WarehouseSettings:
    return base.with_dataset_prefix(f"fx_{fixture.name}_")


def input_schema(name: str, source_types: SourceTypes) -> tuple[str, list[bigquery.SchemaField]]:
    """(dataset key, schema) of a fixture input: a raw table, or ops.<table>."""
    if name.startswith("ops."):
        ops_name = name.removeprefix("ops.")
        if ops_name not in OPS_TABLES:
            raise CardlakeError(f"unknown ops table {name!r} in a fixture")
        return "ops_dataset", bigquery_schema(OPS_TABLES[ops_name])
    declared = raw_table(manifest_for(name), source_types(name))
    return "raw_dataset", list(declared.schema)


def _value(value: Any, field_type: str) -> Any:
    if value is None:
        return None
    if field_type in {"NUMERIC", "BIGNUMERIC"}:
        return Decimal(str(value))
    if field_type == "TIMESTAMP" and isinstance(value, str):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if field_type == "DATE" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if field_type == "BYTES" and isinstance(value, str):
        return value.encode()
    return value


def _load_input(
    bq: bigquery.Client,
    settings: WarehouseSettings,
    name: str,
    rows: list[dict[str, Any]],
    source_types: SourceTypes,
) -> None:
    dataset_key, schema = input_schema(name, source_types)
    types = {f.name: f.field_type for f in schema}
    unknown = sorted({c for row in rows for c in row} - set(types))
    if unknown:
        raise CardlakeError(f"fixture input {name} has no column(s) {', '.join(unknown)}")
    arrow = pa.schema([(f.name, ARROW_TYPE[f.field_type]) for f in schema])
    table = pa.Table.from_pylist(
        [{c: _value(row.get(c), types[c]) for c in types} for row in rows], schema=arrow
    )
    table_id = f"{settings.project}.{settings.datasets[dataset_key]}.{name.split('.')[-1]}"
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    buffer.seek(0)
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        schema=schema,
    )
    bq.delete_table(table_id, not_found_ok=True)
    bq.create_table(bigquery.Table(table_id, schema=schema))
    bq.load_table_from_file(buffer, table_id, job_config=config).result()


def _matches(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, float):
        return isinstance(actual, int | float | Decimal) and math.isclose(
            float(actual), expected, rel_tol=1e-9, abs_tol=1e-9
        )
    if isinstance(actual, Decimal):
        return not isinstance(expected, bool) and actual == Decimal(str(expected))
    if isinstance(actual, dt.datetime) and isinstance(expected, str):
        return actual == dt.datetime.fromisoformat(expected.replace("Z", "+00:00"))
    if isinstance(actual, dt.date) and isinstance(expected, str):
        return actual == dt.date.fromisoformat(expected)
    return bool(type(expected) is type(actual) and expected == actual)


def _compare(
    fixture: str, view: str, expected: list[list[Any]], actual: list[tuple[Any, ...]]
) -> ViewCheck:
    remaining = list(actual)
    missing = []
    for row in expected:
        hit = next(
            (
                i
                for i, got in enumerate(remaining)
                if all(_matches(e, a) for e, a in zip(row, got, strict=True))
            ),
            None,
        )
        if hit is None:
            missing.append(tuple(row))
        else:
            remaining.pop(hit)
    return ViewCheck(fixture, view, missing, remaining)


def load_inputs(
    bq: bigquery.Client,
    settings: WarehouseSettings,
    inputs: dict[str, list[dict[str, Any]]],
    source_types: SourceTypes,
    tables: set[str] | None = None,
) -> None:
    """The raw and ops tables (all, or `tables`), holding the given rows (empty where none
    are given)."""
    known = [*TABLES, *(f"ops.{t}" for t in OPS_TABLES)]
    unknown = sorted((set(inputs) | (tables or set())) - set(known))
    if unknown:
        raise CardlakeError(f"unknown input table(s) {', '.join(unknown)}")
    ensure_datasets(bq, settings)
    for name in known:
        if tables is None or name in tables or name in inputs:
            _load_input(bq, settings, name, inputs.get(name, []), source_types)


def run_fixture(
    bq: bigquery.Client, base: WarehouseSettings, fixture: Fixture, source_types: SourceTypes
) -> list[ViewCheck]:
    """Load the fixture's inputs, deploy its view and compare the view's rows: [its check].

    The raw tables get the types `source_types` gives: fixtures hold no replica's rows, so
    the caller passes a model of the source schema. Only the tables the view reads are loaded.
    """
    check = fixture.expected
    settings = fixture_settings(base, fixture)
    try:
        load_inputs(bq, settings, fixture.inputs, source_types, tables_read(check.view))
    except CardlakeError as exc:
        raise CardlakeError(f"{fixture.path}: {exc}") from None
    deploy_views(bq, settings, only=[check.view])
    [view] = [v for v in view_definitions(only=[check.view]) if v.name == check.view]
    target = view_id(settings, view)
    known = view_columns(bq, target)
    unknown = [c for c in check.columns if c not in known]
    if unknown:
        raise CardlakeError(
            f"{fixture.path}: {check.view} has no column(s) {', '.join(unknown)} "
            f"(it has {', '.join(known)})"
        )
    where = f" where {check.where}" if check.where else ""
    result = bq.query(f"select {', '.join(check.columns)} from `{target}`{where}").result()
    actual = [tuple(row.values()) for row in result]
    return [_compare(fixture.name, check.view, check.rows, actual)]
