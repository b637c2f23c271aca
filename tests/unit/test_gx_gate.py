"""The gate as a Great Expectations project: suites generated from the manifests and
committed next to them, one Checkpoint per table run with its stores under the lake, Data
Docs, and never a sample value in any of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl.contracts.manifest import MANIFEST_DIR, load_manifest, manifest_for, table_names
from etl.gate import gx_project
from etl.gate.gx_project import GxRun
from etl.gate.quality import RowChecks, suite_for, validate
from etl.gate.suites import SUITES_DIR, suite_parameters, suite_text, write_suites
from etl.lake.store import Store

# A card number (Luhn-valid) as a key value, and a range-breaking amount: neither may be
# written anywhere by the gate, though both are in failing columns.
SENTINEL_PAN = "4111111111111111"
SENTINEL_AMOUNT = -987654.125


def test_the_committed_suites_are_what_the_manifests_generate(tmp_path: Path) -> None:
    tables = table_names(MANIFEST_DIR)
    committed = sorted(p.name for p in SUITES_DIR.iterdir())
    assert committed == sorted(f"{t}.json" for t in tables), (
        "one suite per manifest: run `python -m etl.gate.suites`"
    )
    for table in tables:
        assert (SUITES_DIR / f"{table}.json").read_text() == suite_text(manifest_for(table)), (
            f"{table}.json drifted from its manifest: run `python -m etl.gate.suites`"
        )
    assert [p.read_text() for p in write_suites(tmp_path)] == [
        (SUITES_DIR / f"{t}.json").read_text() for t in tables
    ]


def test_the_suite_files_are_a_gx_expectations_store(tmp_path: Path) -> None:
    """A GX context whose expectations store is a copy of the folder next to the manifests
    reads them (a copy: a GX store backend writes an id file into its directory)."""
    gx = gx_project.great_expectations()
    copy = shutil.copytree(SUITES_DIR, tmp_path / "expectations")
    from great_expectations.data_context.types.base import DataContextConfig

    ctx = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            expectations_store_name="suites",
            stores={
                "suites": {
                    "class_name": "ExpectationsStore",
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(copy),
                    },
                }
            },
        ),
    )
    suite = ctx.suites.get("transactions")
    types = [e.expectation_type for e in suite.expectations]
    assert "expect_table_row_count_to_equal" in types
    assert (
        suite.to_json_dict()["expectations"]
        == suite_for(manifest_for("transactions")).to_json_dict()["expectations"]
    )


def test_run_dependent_rules_are_suite_parameters() -> None:
    manifest = manifest_for("transactions")
    parameters = suite_parameters(manifest, 42, ["transaction_id", "amount"])
    assert parameters["source_rows"] == 42
    assert parameters["required_amount"] == 1.0 and parameters["required_memo"] == 0.0
    text = (SUITES_DIR / "transactions.json").read_text()
    assert '"$PARAMETER": "source_rows"' in text and '"$PARAMETER": "required_memo"' in text


def _people(tmp_path: Path) -> Path:
    path = tmp_path / "people.yaml"
    path.write_text(
        "table: people\nprimary_key: [person_ref]\ncolumns:\n"
        "  person_ref: key\n  nickname: attribute\n  amount: {class: measure, min: 0}\n"
        "  email: {class: direct_identifier, normalize: email}\n"
    )
    return path


def _write_snapshot(directory: Path) -> None:
    directory.mkdir(parents=True)
    table = pa.table(
        {
            "person_ref": [SENTINEL_PAN, SENTINEL_PAN, "p3", "p4"],
            "nickname": [SENTINEL_PAN, None, "x", "y"],
            "amount": pa.array([1.5, SENTINEL_AMOUNT, 2.0, 3.0]),
            "email_token": pa.array([b"\x01" * 32, b"\x02" * 31, None, b"\x03" * 32]),
        }
    )
    pq.write_table(table, directory / "part-0.parquet")


def test_a_failing_run_stores_counts_only_in_results_and_data_docs(tmp_path: Path) -> None:
    manifest = load_manifest(_people(tmp_path))
    lake = Store(tmp_path / "lake")
    _write_snapshot(tmp_path / "lake" / "people" / "runs" / "r1")
    # No write counted tokens or PANs here (tests/unit/test_quality.py writes through Spark).
    checks = RowChecks(("person_ref", "nickname", "amount", "email"), (), ())
    dataset = lake.parquet("people/runs/r1")
    report = validate(dataset, manifest, 5, checks, GxRun(lake, "r1"))
    counts = {c["check"]: c.get("unexpected_count") for c in report.checks}
    assert set(report.failed) == {
        "ExpectTableRowCountToEqual()",
        "ExpectColumnValuesToBeUnique(person_ref)",
        "ExpectColumnValuesToNotBeNull(nickname)",
        "ExpectColumnValuesToBeBetween(amount)",
        "ExpectColumnValuesToNotBeNull(email_token)",
    }
    assert counts["ExpectColumnValuesToBeUnique(person_ref)"] == 2
    assert counts["ExpectColumnValuesToBeBetween(amount)"] == 1

    index = gx_project.build_data_docs(lake, "r1")
    assert index == lake.uri_of("_gx/data_docs/index.html")
    gx_root = tmp_path / "lake" / "_gx"
    for store in ("expectations", "checkpoints", "validation_definitions", "validations"):
        assert any((gx_root / store).rglob("*.json")), store
    assert any((gx_root / "data_docs" / "validations" / "people" / "r1").rglob("*.html"))
    files = [p for p in gx_root.rglob("*") if p.is_file() and "static" not in p.parts]
    assert len(files) > 5
    for path in files:
        text = path.read_text(errors="replace")
        assert SENTINEL_PAN not in text, path
        assert "987654" not in text, path
    result = json.loads(next((gx_root / "validations").rglob("*.json")).read_text())
    assert all(not r["result"].get("partial_unexpected_list") for r in result["results"])


def test_without_a_lake_nothing_is_stored(tmp_path: Path) -> None:
    manifest = load_manifest(_people(tmp_path))
    _write_snapshot(tmp_path / "snap")
    checks = RowChecks(("person_ref",), (), ())
    report = validate(Store(tmp_path / "snap").parquet(""), manifest, 4, checks)
    assert "ExpectTableRowCountToEqual()" not in report.failed
    assert not (tmp_path / "snap" / "_gx").exists()


@pytest.mark.parametrize("table", ["transactions", "members"])
def test_the_suite_a_run_uses_is_the_committed_file(table: str) -> None:
    assert suite_for(manifest_for(table)).to_json_dict() == json.loads(
        (SUITES_DIR / f"{table}.json").read_text()
    )


def test_the_data_health_page_links_the_data_docs_once_built(tmp_path: Path) -> None:
    from dashboards.build import data_docs_link

    lake = tmp_path / "lake"
    assert data_docs_link(str(lake)) is None
    index = lake / "_gx" / "data_docs" / "index.html"
    index.parent.mkdir(parents=True)
    index.write_text("<html></html>")
    assert data_docs_link(str(lake)) == index.as_uri()
