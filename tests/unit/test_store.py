"""The lake's storage layer on a local directory: locations, listings and pointers."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.errors import CardlakeError
from etl.lake.snapshot import read_pointer
from etl.lake.store import Store


@pytest.mark.parametrize(
    "typo", ["s3:/bucket/lake", "gs:/bucket/lake", "s4://bucket/lake", "s3://"]
)
def test_a_location_that_is_not_a_directory_or_a_bucket_is_refused(typo: str) -> None:
    with pytest.raises(CardlakeError, match="s3://bucket/prefix or gs://bucket/prefix"):
        Store(typo)


def test_run_listings_skip_files_beside_the_run_directories(tmp_path: Path) -> None:
    (tmp_path / "cards" / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "cards" / "runs" / "r1_$folder$").write_text("")  # what EMRFS-style writers leave
    store = Store(tmp_path)
    assert store.children("cards/runs", directories_only=True) == ["r1"]
    assert store.children("cards/runs") == ["r1", "r1_$folder$"]


def test_replace_if_writes_only_over_the_version_read(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.create("t/CURRENT.json", "a") and not store.create("t/CURRENT.json", "b")
    read = store.read("t/CURRENT.json")
    assert read is not None and read.text == "a"
    assert store.replace_if("t/CURRENT.json", "c", read.version)
    assert not store.replace_if("t/CURRENT.json", "d", read.version)
    assert store.read_text("t/CURRENT.json") == "c"


@pytest.mark.parametrize("content", ["{broken", "[]", '{"table": "cards"}'])
def test_a_corrupt_pointer_is_one_line_not_a_traceback(tmp_path: Path, content: str) -> None:
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "CURRENT.json").write_text(content)
    with pytest.raises(CardlakeError, match="is not a snapshot pointer") as refused:
        read_pointer(tmp_path, "cards")
    assert "\n" not in str(refused.value)
