"""warehouse_sql/: every view has a header, deploys, and returns the expected rows for its
fixture rows on the real emulator (warehouse_sql/tests/*.yaml)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from google.cloud import bigquery

from devstack.source_schema import source_types
from etl.load import warehouse
from etl.settings import warehouse_settings
from etl.views import fixtures as sql_fixtures
from etl.views.deploy import view_columns, view_definitions, view_id

FIXTURES = sql_fixtures.load_fixtures()
HEADER_FIELDS = ("grain:", "filters:", "formula:", "owner:")


@pytest.fixture(scope="module")
def bq(bq_emulator: str) -> bigquery.Client:
    return warehouse.client()


def test_every_view_states_grain_filters_formula_and_owner() -> None:
    for view in view_definitions():
        header = [line for line in view.sql.splitlines() if line.startswith("--")]
        assert header and header[0] == f"-- {view.name}", f"{view.path}: first line names the view"
        for field in HEADER_FIELDS:
            assert any(line.startswith(f"-- {field}") for line in header), (
                f"{view.path}: header lacks {field}"
            )


def test_every_view_is_covered_by_a_fixture() -> None:
    covered = {check.view for fixture in FIXTURES for check in fixture.expected}
    assert {v.name for v in view_definitions()} - covered == set()


@pytest.mark.warehouse
@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_views_return_the_expected_rows(bq: bigquery.Client, fixture: sql_fixtures.Fixture) -> None:
    checks = sql_fixtures.run_fixture(bq, warehouse_settings(), fixture, source_types)
    failed = [c.describe() for c in checks if not c.passed]
    assert not failed, "\n".join(failed)
    settings = sql_fixtures.fixture_settings(warehouse_settings(), fixture)
    views = {v.name: v for v in view_definitions()}
    for check in fixture.expected:
        assert any(check.rows), f"{fixture.name}: {check.view} expects no rows"
        if check.view.startswith(("kpi_", "mart_")):
            # A KPI fixture pins every output column, so a rename or a new column fails here.
            columns = view_columns(bq, view_id(settings, views[check.view]))
            assert check.columns == columns, f"{fixture.name}: {check.view} columns"


@pytest.mark.warehouse
def test_a_wrong_expected_value_fails_and_names_the_view(bq: bigquery.Client) -> None:
    fixture = next(f for f in FIXTURES if f.name == "credit")
    check = next(c for c in fixture.expected if c.view == "kpi_delinquency_monthly")
    wrong_rows = [list(row) for row in check.rows]
    wrong_rows[1][7] = 6999  # delinquent balance at 2026-06-30 is 7,000
    broken = replace(fixture, expected=[replace(check, rows=wrong_rows)], name="credit_mutated")
    [result] = sql_fixtures.run_fixture(bq, warehouse_settings(), broken, source_types)
    assert not result.passed
    assert result.missing == [tuple(wrong_rows[1])]
    assert [tuple(r)[7] for r in result.unexpected] == [7000]
    assert "kpi_delinquency_monthly" in result.describe()
