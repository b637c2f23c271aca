"""Recorded token versions and the retire check, without Spark or servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cardlake.cli import main
from devstack.localproc import free_port
from etl.contracts.manifest import manifest_for
from etl.key_usage import snapshot_holders
from etl.lake.snapshot import Snapshot, current, publish, read_pointer
from etl.pipeline import full_reason, replaced_key
from masking.keys import DocumentKeyProvider, new_key_document, rotate
from masking.policy import token_key_ids


def test_a_pointer_without_recorded_versions_still_reads(tmp_path: Path) -> None:
    pointer = tmp_path / "cards" / "CURRENT.json"
    pointer.parent.mkdir(parents=True)
    pointer.write_text(
        json.dumps({"table": "cards", "run_id": "r1", "path": "/x", "rows": 3, "kind": "full"})
    )
    old = current(tmp_path, "cards")
    assert old is not None and old.tokenization == {} and old.base_runs == ()

    (tmp_path / "cards" / "runs" / "r2").mkdir(parents=True)
    new = Snapshot(
        "cards",
        "r2",
        str(tmp_path / "cards" / "runs" / "r2"),
        3,
        "full",
        ("r2",),
        {"pan": 2, "normalizers": 2},
    )
    publish(tmp_path, new, read_pointer(tmp_path, "cards"))
    assert current(tmp_path, "cards") == new
    assert json.loads(pointer.read_text())["tokenization"] == {"pan": 2, "normalizers": 2}


def test_a_changed_or_unrecorded_version_makes_the_run_full() -> None:
    cards, repayments = manifest_for("cards"), manifest_for("repayments")
    now = {"pan": 2, "normalizers": 2}
    recorded = Snapshot("cards", "r1", "/x", 1, tokenization={"pan": 1, "normalizers": 2})
    same = Snapshot("cards", "r1", "/x", 1, tokenization=now)
    unrecorded = Snapshot("cards", "r1", "/x", 1)
    assert full_reason(cards, requested=False, loaded=now, published=same, tokens=now) is None
    assert (
        full_reason(cards, requested=False, loaded=now, published=recorded, tokens=now)
        == "key or normalizer version changed: pan v1 -> v2"
    )
    assert (
        full_reason(cards, requested=False, loaded=now, published=unrecorded, tokens=now)
        is not None
    )
    assert full_reason(cards, requested=False, loaded=now, published=None, tokens=now) is not None
    assert (
        full_reason(cards, requested=False, loaded=None, published=same, tokens=now)
        == "no bookmark"
    )
    assert (
        full_reason(cards, requested=True, loaded=now, published=same, tokens=now)
        == "full refresh requested"
    )
    # A rotation's full snapshot was published but its load failed: the bookmark still
    # records what the warehouse holds, so the next run is full again, not incremental.
    loaded_v1 = {"pan": 1, "normalizers": 2}
    assert (
        full_reason(cards, requested=False, loaded=loaded_v1, published=same, tokens=now)
        == "key or normalizer version changed: pan v1 -> v2"
    )
    assert (
        full_reason(cards, requested=False, loaded={}, published=same, tokens=now) is not None
    )  # an older bookmark
    # A table without token or free-text columns records {} and stays incremental.
    assert (
        full_reason(
            repayments,
            requested=False,
            loaded={},
            published=Snapshot("repayments", "r1", "/x", 1),
            tokens={},
        )
        is None
    )
    # A bookmark but no snapshot in this lake (CARDLAKE_LAKE changed alone): an incremental
    # snapshot would be published as the whole table.
    assert (
        full_reason(repayments, requested=False, loaded={}, published=None, tokens={})
        == "no published snapshot in this lake"
    )


def test_retire_refuses_a_version_a_snapshot_records(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    for table, tokens in [
        ("cards", {"pan": 1, "normalizers": 2}),
        ("members", {"pii": 1, "normalizers": 2}),
    ]:
        (lake / table / "runs" / "r1").mkdir(parents=True)
        publish(
            lake,
            Snapshot(table, "r1", str(lake / table / "runs" / "r1"), 1, tokenization=tokens),
            read_pointer(lake, table),
        )
    assert snapshot_holders("pan", 1, lake) == ["the published snapshot of cards (run r1)"]
    assert snapshot_holders("pan", 2, lake) == []
    # Recorded before versions were: its versions are unknown, so it holds every version.
    (lake / "cards" / "runs" / "r2").mkdir()
    publish(
        lake,
        Snapshot("cards", "r2", str(lake / "cards" / "runs" / "r2"), 1),
        read_pointer(lake, "cards"),
    )
    assert "records no key versions" in snapshot_holders("pan", 2, lake)[0]
    assert snapshot_holders("pii", 2, lake) == []


def test_retire_is_refused_when_the_warehouse_cannot_be_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "keys" / "dev-keys.json"
    monkeypatch.setenv("CARDLAKE_HOME", str(tmp_path))
    monkeypatch.setenv("CARDLAKE_KEY_FILE", str(key_file))
    monkeypatch.delenv("CARDLAKE_KEY_PROVIDER", raising=False)
    monkeypatch.delenv("CARDLAKE_BQ_PROJECT", raising=False)
    monkeypatch.setenv("CARDLAKE_BQ_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    assert main(["keys", "rotate", "--name", "pan"]) == 0
    capsys.readouterr()
    assert main(["keys", "retire", "--name", "pan", "--version", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cardlake: error: cannot retire pan v1: "), err
    assert "could not be checked" in err[0] and "nothing was retired" in err[0]
    assert "1" in json.loads(key_file.read_text())["keys"]["pan"]["versions"]


def test_another_key_under_the_same_version_makes_the_run_full() -> None:
    cards = manifest_for("cards")
    first, second = new_key_document(dev_only=True), new_key_document(dev_only=True)
    ids = {
        name: token_key_ids(cards, DocumentKeyProvider(doc, name))
        for name, doc in (("first", first), ("second", second))
    }
    assert ids["first"].keys() == {"pan"} and ids["first"] != ids["second"]  # both "pan v1"
    tokens = {"pan": 1, "normalizers": 2}
    assert replaced_key([ids["first"]], ids["first"], tokens) is None
    assert replaced_key([ids["second"]], ids["first"], tokens) == (
        "key pan v1 is not the key the table's tokens were made with (the key document was "
        "replaced)"
    )
    assert replaced_key([{}], ids["first"], tokens) is None  # recorded before ids existed
    rotated = json.loads(json.dumps(first))
    rotate(rotated, "pan")
    assert token_key_ids(cards, DocumentKeyProvider(rotated, "rotated")) != ids["first"]
