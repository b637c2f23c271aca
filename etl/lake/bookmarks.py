"""Per-table bookmarks: the cursor watermark up to which the warehouse holds every row.

A bookmark moves only after the warehouse load of its run succeeded. It lives in a local
directory (default) or under an s3:// or gs:// prefix (CARDLAKE_BOOKMARKS); each write
replaces one whole object, atomically (os.replace locally, a single PUT in the clouds).
A missing or unreadable bookmark means "no bookmark": the next run is a full refresh that
replaces the table, never an append.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from etl.errors import optional_sdk
from etl.fileio import write_atomically
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

    @property
    def watermark_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.watermark)


def bookmarks_uri() -> str:
    current = settings()
    return current.bookmarks or str(current.state_dir / "bookmarks")


class BookmarkStore:
    def __init__(self, uri: str | None = None) -> None:
        self.uri = (uri or bookmarks_uri()).rstrip("/")

    def _key(self, table: str) -> str:
        return f"{self.uri}/{table}.json"

    def read(self, table: str) -> Bookmark | None:
        try:
            raw = self._get(self._key(table))
        except FileNotFoundError:
            return None
        try:
            return Bookmark(**json.loads(raw))
        except (ValueError, TypeError):
            return None  # corrupt: treated as lost, so the next run is a full refresh

    def write(self, bookmark: Bookmark) -> None:
        self._put(self._key(bookmark.table), json.dumps(asdict(bookmark), indent=2))

    def delete(self, table: str) -> None:
        key = self._key(table)
        if "://" in key:
            self._put(key, "")  # an empty object reads as "no bookmark"
        else:
            Path(key).unlink(missing_ok=True)

    def tables(self) -> list[str]:
        if "://" in self.uri:
            raise NotImplementedError("listing cloud bookmarks: name the table")
        directory = Path(self.uri)
        return sorted(p.stem for p in directory.glob("*.json")) if directory.exists() else []

    def _get(self, key: str) -> str:
        scheme, _, rest = key.partition("://")
        if not rest:
            return Path(key).read_text()
        bucket, _, name = rest.partition("/")
        if scheme == "s3":
            boto3 = optional_sdk("boto3", "aws", "an s3:// bookmark store")
            try:
                body = boto3.client("s3").get_object(Bucket=bucket, Key=name)["Body"]
            except Exception as exc:  # botocore's NoSuchKey is generated at run time
                if "NoSuchKey" in type(exc).__name__:
                    raise FileNotFoundError(key) from None
                raise
            return str(body.read().decode("utf-8"))
        if scheme == "gs":
            storage = optional_sdk("google.cloud.storage", "gcp", "a gs:// bookmark store")
            blob = storage.Client().bucket(bucket).blob(name)
            if not blob.exists():
                raise FileNotFoundError(key)
            return str(blob.download_as_text())
        raise ValueError(f"unsupported bookmark URI {key!r}: use a path, s3:// or gs://")

    def _put(self, key: str, text: str) -> None:
        scheme, _, rest = key.partition("://")
        if not rest:
            write_atomically(Path(key), text)
            return
        bucket, _, name = rest.partition("/")
        if scheme == "s3":
            boto3 = optional_sdk("boto3", "aws", "an s3:// bookmark store")
            boto3.client("s3").put_object(Bucket=bucket, Key=name, Body=text.encode("utf-8"))
        elif scheme == "gs":
            storage = optional_sdk("google.cloud.storage", "gcp", "a gs:// bookmark store")
            storage.Client().bucket(bucket).blob(name).upload_from_string(text)
        else:
            raise ValueError(f"unsupported bookmark URI {key!r}: use a path, s3:// or gs://")
