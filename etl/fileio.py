"""Small-file writes that readers never see half done."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, text: str, private: bool = False) -> None:
    """Write to a sibling temp file, then rename over `path` (atomic on one filesystem).

    private: the file is created 0600 before any byte is written (keys, passwords).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if private:
        tmp.touch(mode=0o600)
    tmp.write_text(text)
    os.replace(tmp, path)


def create_exclusively(path: Path, text: str) -> bool:
    """Create `path` holding `text` unless it exists; False if it did (O_CREAT|O_EXCL).

    Of several processes creating the same path, exactly one gets True (on one filesystem).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return True
