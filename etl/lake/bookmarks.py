"""Per-table bookmarks: the cursor watermark up to which the warehouse holds every row.

A bookmark moves only after the warehouse load of its run succeeded. It lives in a local
directory (default) or under an s3:// or gs:// prefix (CARDLAKE_BOOKMARKS), through the
lake's storage layer (etl.lake.store); each write replaces one whole object, atomically.
A missing or unreadable bookmark means "no bookmark": the next run is a full refresh that
replaces the table, never an append.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

from etl.lake.store import Store
from etl.settings import settings


@dataclass(frozen=True)
class Bookmark:
    table: str
    cursor: str
    watermark: str  # ISO timestamp (UTC): every row with cursor < watermark is loaded
    run_id: str
    committed_at: str
    # Key and normalizer versions of the tokens the warehouse table holds up to here (a
    # bookmark moves only after a load, so this is what was loaded, not just published).
    tokenization: dict[str, int] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)  # masking.policy.token_key_ids

    @property
    def watermark_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.watermark)


def bookmarks_uri() -> str:
    current = settings()
    return current.bookmarks or str(current.state_dir / "bookmarks")


class BookmarkStore:
    def __init__(self, uri: str | None = None) -> None:
        self.store = Store(uri or bookmarks_uri())

    @property
    def uri(self) -> str:
        return self.store.uri

    def read(self, table: str) -> Bookmark | None:
        raw = self.store.read_text(f"{table}.json")
        if raw is None:
            return None
        try:
            return Bookmark(**json.loads(raw))
        except (ValueError, TypeError):
            return None  # corrupt: treated as lost, so the next run is a full refresh

    def write(self, bookmark: Bookmark) -> None:
        self.store.write_text(f"{bookmark.table}.json", json.dumps(asdict(bookmark), indent=2))

    def delete(self, table: str) -> None:
        self.store.delete(f"{table}.json")

    def tables(self) -> list[str]:
        return [n.removesuffix(".json") for n in self.store.children("") if n.endswith(".json")]
