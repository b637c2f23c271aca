"""warehouse_sql/: every view sits in its layer's folder with a metadata file and one fixture,
opens with import CTEs, deploys with its descriptions, and returns the expected rows for its
fixture rows on the real emulator (warehouse_sql/<layer>/<view>.fixture.yaml)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from google.cloud import bigquery

from devstack.source_schema import source_types
from etl.errors import CardlakeError
from etl.load import warehouse
from etl.settings import SQL_DIR, warehouse_settings
from etl.views import fixtures as sql_fixtures
from etl.views.deploy import (
    FIXTURE_SUFFIX,
    LAYERS,
    deploy_views,
    view_columns,
    view_definitions,
    view_id,
)

FIXTURES = sql_fixtures.load_fixtures()
GMV_MODEL = "int_gmv_by_period"
# How GMV and the average ticket were spelled when each mart computed them itself.
FORMULA_PARTS = ("sum(signed_amount_jpy)", "countif(txn_type = 'capture')", "txn_type = 'refund'")


@pytest.fixture(scope="module")
def bq(bq_emulator: str) -> bigquery.Client:
    return warehouse.client()


def _copy_sql(tmp_path: Path) -> Path:
    sql_dir = tmp_path / "warehouse_sql"
    shutil.copytree(SQL_DIR, sql_dir, ignore=shutil.ignore_patterns("__pycache__"))
    return sql_dir


def test_every_view_states_grain_filters_formula_and_owner() -> None:
    # Grain, owner and the rest live in the metadata next to the SQL, not in SQL comments.
    for view in view_definitions():
        assert view.metadata_path.is_file(), f"{view.path}: no metadata file"
        metadata = view.metadata
        assert metadata.description and metadata.grain and metadata.owner, view.name
        described = metadata.table_description()
        assert f"Grain: {metadata.grain}" in described and f"Owner: {metadata.owner}" in described
        if metadata.filters:
            assert f"Filters: {metadata.filters}" in described
        if metadata.formula:
            assert f"Formula: {metadata.formula}" in described


def test_every_view_opens_with_import_ctes_and_no_header_comment() -> None:
    for view in view_definitions():
        assert view.sql.startswith("with "), f"{view.path}: opens with its import CTEs"
        assert not re.search(r"^\s*--", view.sql, re.M), f"{view.path}: comments go in metadata"


def test_the_folder_gives_the_layer_and_the_dataset() -> None:
    views = view_definitions()
    assert {v.layer for v in views} == set(LAYERS)
    for view in views:
        assert view.path.parent == SQL_DIR / view.layer
        assert view.name.startswith(LAYERS[view.layer].prefix)
    datasets = {v.name: v.dataset_key for v in views}
    assert datasets["stg_transactions"] == datasets["int_data_as_of"] == "stg_dataset"
    assert datasets["kpi_gmv_daily"] == datasets["mart_table_freshness_latest"] == "mart_dataset"


def test_one_intermediate_model_owns_the_gmv_formula() -> None:
    views = {v.name: v for v in view_definitions()}
    assert views[GMV_MODEL].layer == "intermediate"
    assert "captured_amount_jpy - refunded_amount_jpy as gmv_jpy" in views[GMV_MODEL].sql
    for name in ("kpi_gmv_daily", "kpi_spending_daily", "kpi_spending_monthly"):
        assert views[name].depends_on == {GMV_MODEL}, name
    assert GMV_MODEL in views["kpi_support_contributions_monthly"].depends_on
    for view in views.values():
        if view.name != GMV_MODEL and view.layer != "staging":
            for formula in FORMULA_PARTS:
                assert formula not in view.sql, f"{view.name} repeats {formula}"


def test_every_view_has_exactly_one_fixture_file() -> None:
    fixture_files = sql_fixtures.fixture_files()
    for view in view_definitions():
        own = [p for p in fixture_files if p.name == f"{view.name}{FIXTURE_SUFFIX}"]
        assert own == [view.path.with_name(f"{view.name}{FIXTURE_SUFFIX}")], view.name
    assert len(fixture_files) == len(view_definitions())
    assert sorted(f.name for f in FIXTURES) == sorted(v.name for v in view_definitions())
    assert all(f.expected.view == f.name for f in FIXTURES)


def test_every_view_is_covered_by_a_fixture() -> None:
    covered = {fixture.expected.view for fixture in FIXTURES}
    assert {v.name for v in view_definitions()} - covered == set()


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        (lambda d: (d / "marts" / "kpi_repayments_monthly.yaml").unlink(), "missing"),
        (lambda d: (d / "marts" / "kpi_orphan.yaml").write_text("owner: x\n"), "metadata for no"),
        (lambda d: (d / "kpi_flat.sql").write_text("select 1 as x\n"), "its layer's folder"),
        (
            lambda d: shutil.copy(d / "marts" / "kpi_gmv_daily.sql", d / "ops" / "mart_gmv.sql"),
            "missing",
        ),
        (
            lambda d: (d / "marts" / "kpi_gmv_daily.sql").rename(d / "ops" / "kpi_gmv_daily.sql"),
            "named mart_",
        ),
    ],
    ids=["no-metadata", "orphan-metadata", "outside-a-layer", "copy-without-metadata", "prefix"],
)
def test_a_view_layout_out_of_order_is_refused(
    tmp_path: Path, change: Callable[[Path], object], refused: str
) -> None:
    sql_dir = _copy_sql(tmp_path)
    change(sql_dir)
    with pytest.raises(CardlakeError, match=refused):
        view_definitions(sql_dir)


def test_a_fixture_for_no_view_or_of_an_unread_table_is_refused(tmp_path: Path) -> None:
    sql_dir = _copy_sql(tmp_path)
    fixture = sql_dir / "marts" / f"kpi_gmv_daily{FIXTURE_SUFFIX}"
    shutil.copy(fixture, sql_dir / "ops" / f"kpi_gmv_daily{FIXTURE_SUFFIX}")
    with pytest.raises(CardlakeError, match="a fixture for no view"):
        sql_fixtures.load_fixtures(sql_dir)
    (sql_dir / "ops" / f"kpi_gmv_daily{FIXTURE_SUFFIX}").unlink()
    text = fixture.read_text().replace("inputs:\n", "inputs:\n  repayments: []\n", 1)
    fixture.write_text(text)
    with pytest.raises(CardlakeError, match="does not read input table"):
        sql_fixtures.load_fixtures(sql_dir)


@pytest.mark.warehouse
def test_deploy_sets_the_view_and_column_descriptions_in_bigquery(bq: bigquery.Client) -> None:
    settings = warehouse_settings().with_dataset_prefix("fx_docs_")
    sql_fixtures.load_inputs(bq, settings, {}, source_types)
    deploy_views(bq, settings)
    for view in view_definitions():
        table = bq.get_table(view_id(settings, view))
        assert table.table_type == "VIEW"
        assert table.description == view.metadata.table_description(), view.name
        returned = view_columns(bq, view_id(settings, view))
        described = {f.name: f.description for f in table.schema}
        assert list(described) == returned
        # Every column the view returns is described, with exactly its metadata's text.
        assert described == view.metadata.columns, view.name


@pytest.mark.warehouse
@pytest.mark.parametrize(
    ("edit", "refused"),
    [
        (
            lambda text: text + "  bogus_column: a column the view does not return\n",
            "describes column\\(s\\) bogus_column that kpi_repayments_monthly does not return",
        ),
        (
            lambda text: text.replace("  channel: ", "  # channel: "),
            "has no description of kpi_repayments_monthly's column\\(s\\) channel",
        ),
    ],
    ids=["unknown-column", "undescribed-column"],
)
def test_metadata_must_describe_exactly_the_columns_the_view_returns(
    bq: bigquery.Client, tmp_path: Path, edit: Callable[[str], str], refused: str
) -> None:
    sql_dir = _copy_sql(tmp_path)
    metadata = sql_dir / "marts" / "kpi_repayments_monthly.yaml"
    metadata.write_text(edit(metadata.read_text()))
    settings = warehouse_settings().with_dataset_prefix("fx_baddocs_")
    read = sql_fixtures.tables_read("kpi_repayments_monthly")
    sql_fixtures.load_inputs(bq, settings, {}, source_types, read)
    with pytest.raises(CardlakeError, match=refused):
        deploy_views(bq, settings, only=["kpi_repayments_monthly"], sql_dir=sql_dir)


@pytest.mark.warehouse
@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_views_return_the_expected_rows(bq: bigquery.Client, fixture: sql_fixtures.Fixture) -> None:
    checks = sql_fixtures.run_fixture(bq, warehouse_settings(), fixture, source_types)
    failed = [c.describe() for c in checks if not c.passed]
    assert not failed, "\n".join(failed)
    settings = sql_fixtures.fixture_settings(warehouse_settings(), fixture)
    views = {v.name: v for v in view_definitions()}
    check = fixture.expected
    assert any(check.rows), f"{fixture.name}: {check.view} expects no rows"
    if check.view.startswith(("kpi_", "mart_")):
        # A KPI fixture pins every output column, so a rename or a new column fails here.
        columns = view_columns(bq, view_id(settings, views[check.view]))
        assert check.columns == columns, f"{fixture.name}: {check.view} columns"


@pytest.mark.warehouse
def test_a_wrong_expected_value_fails_and_names_the_view(bq: bigquery.Client) -> None:
    fixture = next(f for f in FIXTURES if f.name == "kpi_delinquency_monthly")
    check = fixture.expected
    wrong_rows = [list(row) for row in check.rows]
    wrong_rows[1][10] = 6999  # the 1+ days-past-due balance at 2026-06-30 is 7,000
    broken = replace(fixture, expected=replace(check, rows=wrong_rows), name="credit_mutated")
    [result] = sql_fixtures.run_fixture(bq, warehouse_settings(), broken, source_types)
    assert not result.passed
    assert result.missing == [tuple(wrong_rows[1])]
    assert [tuple(r)[10] for r in result.unexpected] == [7000]
    assert "kpi_delinquency_monthly" in result.describe()
