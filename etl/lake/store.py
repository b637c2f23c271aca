"""Where the lake and the job's state live: a local directory, `s3://bucket/prefix` or
`gs://bucket/prefix`, read and written through one layer, pyarrow.fs.

Everything cardlake itself reads or writes (pointers, leases, bookmarks, reports, listing
and pruning runs, reading snapshots) goes through a `Store`; Spark writes data files to the
same locations (etl.lake.snapshot). Keys are relative to the store's root, '/'-separated.

Object stores have no rename, so the two writes that must not race are conditional:
`create` writes only where nothing is (S3 If-None-Match, GCS generation 0), and
`replace_if` only over the version read before (S3 If-Match on the ETag, GCS
if_generation_match); pyarrow.fs cannot express either, so those two calls, and the reads
that return an object's version, use boto3 or google-cloud-storage (as do S3 deletes:
pyarrow's leave empty "directory" objects). Locally the same promises come from O_EXCL and
a lock file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import os
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.fs as pafs

from etl.errors import CardlakeError, optional_sdk
from etl.fileio import create_exclusively, write_atomically

if TYPE_CHECKING:
    import pyarrow.dataset as ds

SCHEMES = ("s3", "gs")


@dataclass(frozen=True)
class Versioned:
    """An object's text and the version a conditional write must find to replace it."""

    text: str
    version: str


class Store:
    """One root location and the files under it."""

    def __init__(self, location: str | os.PathLike[str]) -> None:
        text = os.fspath(location)
        scheme, sep, rest = text.partition("://")
        if not sep and re.match(r"[a-z][a-z0-9+.-]*:/", text):
            raise CardlakeError(
                f"location {text!r} looks like a URI missing a slash: use "
                "s3://bucket/prefix or gs://bucket/prefix, or a directory"
            )
        if not sep:
            self.scheme = ""
            self.uri = str(Path(text).expanduser().resolve())
            self.root = self.uri
            return
        if scheme not in SCHEMES or not rest.strip("/"):
            raise CardlakeError(
                f"unsupported location {text!r}: use a directory, s3://bucket/prefix or "
                "gs://bucket/prefix"
            )
        self.scheme = scheme
        self.uri = f"{scheme}://{rest.strip('/')}"
        self.root = rest.strip("/")

    def __repr__(self) -> str:
        return f"Store({self.uri!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Store) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    @property
    def is_local(self) -> bool:
        return not self.scheme

    @functools.cached_property
    def filesystem(self) -> pafs.FileSystem:
        if self.is_local:
            return pafs.LocalFileSystem()
        with self._explained("reach", ""):
            if self.scheme == "gs":
                # from_uri's default retries an unreachable GCS for many minutes.
                return pafs.GcsFileSystem(retry_time_limit=dt.timedelta(seconds=20))
            filesystem, _ = pafs.FileSystem.from_uri(self.uri)
        return filesystem

    def path(self, key: str) -> str:
        """The key's path inside the filesystem."""
        return f"{self.root}/{key}" if key else self.root

    def uri_of(self, key: str) -> str:
        """The key's location as users, Spark and pointers name it."""
        return f"{self.uri}/{key}" if key else self.uri

    def check_reachable(self) -> None:
        """Fail with one line now, before any work, if the location cannot be used: a bucket
        that does not exist (listing a missing bucket's prefix reads as empty), no
        credentials, or no permission to list."""
        if self.is_local:
            return
        bucket, _, prefix = self.root.partition("/")
        with self._explained("reach", ""):
            if self.scheme == "s3":
                # A listing under the prefix, which a prefix-scoped role may make; a missing
                # bucket is an error here, where pyarrow's listing would read as empty.
                try:
                    _s3().list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/", MaxKeys=1)
                except Exception as exc:
                    if _aws_code(exc) != "NoSuchBucket":
                        raise
                    missing = True
                else:
                    missing = False
            else:
                missing = self.filesystem.get_file_info(bucket).type == pafs.FileType.NotFound
        if missing:
            raise CardlakeError(
                f"cannot reach {self.uri}: the bucket {bucket} does not exist (create it, or "
                "fix the location)"
            )

    # -- reading -------------------------------------------------------------------------

    def read(self, key: str) -> Versioned | None:
        """The object's text and version; None if there is none."""
        if self.is_local:
            try:
                text = Path(self.path(key)).read_text()
            except FileNotFoundError:
                return None
            return Versioned(text, _digest(text))
        if self.scheme == "s3":
            bucket, name = self._bucket_key(key)
            with self._explained("read", key):
                try:
                    got = _s3().get_object(Bucket=bucket, Key=name)
                except Exception as exc:
                    if _aws_code(exc) in {"NoSuchKey", "404"}:
                        return None
                    raise
                return Versioned(got["Body"].read().decode("utf-8"), got["ETag"])
        blob = self._gcs_blob(key)
        with self._explained("read", key):
            if not blob.exists():
                return None
            text = blob.download_as_text()
            return Versioned(text, str(blob.generation))

    def read_text(self, key: str) -> str | None:
        found = self.read(key)
        return None if found is None else found.text

    def exists(self, key: str) -> bool:
        with self._explained("look at", key):
            info = self.filesystem.get_file_info(self.path(key))
        return info.type != pafs.FileType.NotFound

    def modified_at(self, key: str) -> float | None:
        """The object's modification time (epoch seconds); None if there is none."""
        with self._explained("look at", key):
            info = self.filesystem.get_file_info(self.path(key))
        if info.type == pafs.FileType.NotFound or info.mtime is None:
            return None
        return info.mtime.timestamp()

    def children(self, key: str, directories_only: bool = False) -> list[str]:
        """Names directly under key (files and prefixes, or prefixes only), sorted; [] if
        there is nothing."""
        selector = pafs.FileSelector(self.path(key), recursive=False, allow_not_found=True)
        with self._explained("list", key):
            found = self.filesystem.get_file_info(selector)
        wanted = (i for i in found if not directories_only or i.type == pafs.FileType.Directory)
        return sorted(info.base_name for info in wanted)

    def files(self, key: str) -> list[str]:
        """Keys of every file below key, sorted."""
        selector = pafs.FileSelector(self.path(key), recursive=True, allow_not_found=True)
        with self._explained("list", key):
            found = self.filesystem.get_file_info(selector)
        prefix = len(self.root) + 1
        return sorted(i.path[prefix:] for i in found if i.type == pafs.FileType.File)

    def parquet(self, key: str) -> ds.FileSystemDataset:
        """The Parquet files below key as one dataset (names starting with _ or . skipped)."""
        import pyarrow.dataset as ds  # with pandas, 0.4 s that bookmarks and leases never need

        with self._explained("read Parquet at", key):
            return ds.dataset(self.path(key), filesystem=self.filesystem, format="parquet")

    # -- writing -------------------------------------------------------------------------

    def write_text(self, key: str, text: str) -> None:
        """Replace the whole object; readers see the old text or the new, never a part."""
        if self.is_local:
            write_atomically(Path(self.path(key)), text)
            return
        with (
            self._explained("write", key),
            self.filesystem.open_output_stream(self.path(key)) as out,
        ):
            out.write(text.encode("utf-8"))

    def create(self, key: str, text: str) -> bool:
        """Write the object unless one exists; of racing creators exactly one gets True."""
        return self.replace_if(key, text, None)

    def replace_if(self, key: str, text: str, version: str | None) -> bool:
        """Write the object only if it is still at `version` (None: only if there is none).

        False, and nothing written, when another writer got there first.
        """
        if self.is_local:
            path = Path(self.path(key))
            if version is None:
                return create_exclusively(path, text)
            with _locked(path):
                found = self.read(key)
                if found is None or found.version != version:
                    return False
                write_atomically(path, text)
                return True
        if self.scheme == "s3":
            bucket, name = self._bucket_key(key)
            condition = {"IfNoneMatch": "*"} if version is None else {"IfMatch": version}
            with self._explained("write", key):
                try:
                    _s3().put_object(
                        Bucket=bucket, Key=name, Body=text.encode("utf-8"), **condition
                    )
                except Exception as exc:
                    if _aws_code(exc) in {"PreconditionFailed", "ConditionalRequestConflict"}:
                        return False
                    raise
            return True
        blob = self._gcs_blob(key)
        generation = 0 if version is None else int(version)
        with self._explained("write", key):
            try:
                blob.upload_from_string(text, if_generation_match=generation)
            except Exception as exc:
                if type(exc).__name__ == "PreconditionFailed":
                    return False
                raise
        return True

    def upload_tree(self, local: Path, key: str, only: Collection[Path] | None = None) -> None:
        """Copy a local directory's files under key (checksum files excluded), or only the
        files named in `only`."""
        with self._explained("write", key):
            for source in sorted(p for p in local.rglob("*") if p.is_file()):
                if source.name.startswith(".") and source.name.endswith(".crc"):
                    continue
                if only is not None and source not in only:
                    continue
                target = f"{key}/{source.relative_to(local).as_posix()}"
                with (
                    source.open("rb") as data,
                    self.filesystem.open_output_stream(self.path(target)) as out,
                ):
                    while chunk := data.read(8 << 20):
                        out.write(chunk)

    def delete(self, key: str) -> None:
        if self.scheme == "s3":
            self._delete_s3_objects([key])
            return
        with contextlib.suppress(FileNotFoundError), self._explained("delete", key):
            self.filesystem.delete_file(self.path(key))

    def delete_tree(self, key: str) -> None:
        if self.scheme == "s3":
            self._delete_s3_objects(self.files(key))
            return
        if not self.exists(key):
            return
        with self._explained("delete", key):
            self.filesystem.delete_dir(self.path(key))

    def _delete_s3_objects(self, keys: list[str]) -> None:
        """Delete objects with boto3: pyarrow's deletes put an empty "directory" object in
        place of the last one under a prefix, which would then list as a run."""
        bucket, _ = self._bucket_key("")
        with self._explained("delete", keys[0] if keys else ""):
            for start in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 at a time
                batch = [{"Key": self._bucket_key(k)[1]} for k in keys[start : start + 1000]]
                _s3().delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})

    def remove_empty_dirs(self, key: str) -> None:
        """Remove empty directories below and at key (object stores have none)."""
        if not self.is_local:
            return
        top = Path(self.path(key))
        if not top.is_dir():
            return
        for root, dirs, _ in os.walk(top, topdown=False):
            for name in dirs:
                with contextlib.suppress(OSError):  # not empty
                    (Path(root) / name).rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()

    # -- helpers -------------------------------------------------------------------------

    def _bucket_key(self, key: str) -> tuple[str, str]:
        bucket, _, name = self.path(key).partition("/")
        return bucket, name

    def _gcs_blob(self, key: str) -> Any:
        storage = optional_sdk("google.cloud.storage", "gcp", "a gs:// lake or bookmark store")
        bucket, name = self._bucket_key(key)
        with self._explained("reach", key):
            return storage.Client().bucket(bucket).blob(name)

    @contextlib.contextmanager
    def _explained(self, action: str, key: str) -> Iterator[None]:
        """A storage failure as one line naming the location and what to do; the stores'
        own messages carry request ids and stack frames."""
        try:
            yield
        except CardlakeError:
            raise
        except FileNotFoundError:
            raise
        except Exception as exc:
            if self.is_local and not isinstance(exc, OSError):
                raise
            raise CardlakeError(
                f"cannot {action} {self.uri_of(key)}: {storage_reason(exc)}"
            ) from None


def as_store(location: Store | str | os.PathLike[str]) -> Store:
    return location if isinstance(location, Store) else Store(location)


def storage_reason(exc: BaseException) -> str:
    """What went wrong, in words a user can act on, from an S3/GCS/local storage error."""
    name, text = type(exc).__name__, str(exc)
    code = _aws_code(exc)
    if name in {"NoCredentialsError", "PartialCredentialsError"} or "credentials" in text.lower():
        return (
            "no cloud credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run under "
            "a role; for gs:// set GOOGLE_APPLICATION_CREDENTIALS)"
        )
    if code == "NoSuchBucket" or "NO_SUCH_BUCKET" in text or name == "NotFound":
        return "the bucket does not exist (create it, or fix the location)"
    if code in {"AccessDenied", "403"} or "ACCESS_DENIED" in text or name == "Forbidden":
        return (
            "access denied (the role needs s3:GetObject, s3:PutObject, s3:DeleteObject and "
            "s3:ListBucket on this prefix; see the README's IAM policy)"
        )
    first = re.sub(r"\s*\(Request ID: [^)]*\)", "", text.strip().splitlines()[0] if text else name)
    return first or name


def _aws_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _s3() -> Any:
    boto3 = optional_sdk("boto3", "aws", "an s3:// lake or bookmark store")
    return boto3.client("s3")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialize local conditional replaces of one file (a sibling lock file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
