"""Manifests: every source table and column is classified, and bad manifests fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.source_schema import TABLE_ORDER, metadata
from etl.contracts.manifest import check_source_columns, load_manifest, manifest_for
from etl.errors import CardlakeError


@pytest.mark.parametrize("table", TABLE_ORDER)
def test_every_source_column_is_classified(table: str) -> None:
    manifest = manifest_for(table)
    assert list(manifest.columns) == [c.name for c in metadata.tables[table].columns]
    assert manifest.primary_key == tuple(c.name for c in metadata.tables[table].primary_key)


def test_sensitive_authentication_data_is_never_selected() -> None:
    cards = manifest_for("cards")
    assert cards.columns["cvv"].action == "exclude"
    assert "cvv" not in cards.selected_columns


def test_unclassified_column_is_named_with_the_line_to_add() -> None:
    manifest = manifest_for("members")
    with pytest.raises(CardlakeError) as err:
        check_source_columns(manifest, [*manifest.columns, "nickname"])
    assert "members.nickname" in str(err.value)
    assert "add `nickname: <class>`" in str(err.value) and "members.yaml" in str(err.value)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(body)
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("table: t\ncolumns: {id: key}\n", "missing 'primary_key'"),
        ("table: t\nprimary_key: [id]\ncolumns: {id: secret}\n", "unknown class 'secret'"),
        ("table: t\nprimary_key: [nope]\ncolumns: {id: key}\n", "'nope' is not listed"),
        (
            "table: t\nprimary_key: [id]\ncolumns: {id: key, c: {class: sensitive_auth, action: keep}}\n",
            "not allowed",
        ),
        (
            "table: t\nprimary_key: [id]\ncolumns: {id: key, b: {class: quasi_identifier, generalize: city}}\n",
            "generalize must be",
        ),
        (
            "table: t\nprimary_key: [id]\ncolumns: {id: key, e: {class: direct_identifier, normalize: soundex}}\n",
            "normalize must be",
        ),
        (
            "table: t\nprimary_key: [id]\ncolumns: {id: key, p: {class: pan, display: [first8]}}\n",
            "display is only",
        ),
        ("table: t\nprimary_key: [id]\ncolumns: {id: key}\nk_anonymity: {k: 1}\n", "at least 2"),
        (
            "table: t\nprimary_key: [id]\ncolumns: {id: key}\nk_anonymity: {on_violation: drop}\n",
            "fail or suppress",
        ),
        ("table: [\n", "not valid YAML"),
    ],
)
def test_invalid_manifests_fail_with_a_clear_message(
    tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(CardlakeError, match=message):
        load_manifest(_write(tmp_path, body))
