"""Give the CLI a state of its own inside a test: lake, bookmarks, warehouse datasets and a
generated dev key file, so a test's runs touch nothing another test reads."""

from __future__ import annotations

from pathlib import Path

import pytest


def isolate_cli_state(monkeypatch: pytest.MonkeyPatch, root: Path, dataset_prefix: str) -> Path:
    """Point the CLI's state below root; returns the dev key file it will generate."""
    monkeypatch.setenv("CARDLAKE_LAKE", str(root / "lake"))
    monkeypatch.setenv("CARDLAKE_BOOKMARKS", str(root / "bookmarks"))
    monkeypatch.setenv("CARDLAKE_BQ_DATASET_PREFIX", dataset_prefix)
    key_file = root / "keys" / "dev-keys.json"
    monkeypatch.setenv("CARDLAKE_KEY_FILE", str(key_file))
    return key_file
