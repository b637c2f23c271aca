"""Token keys by name and version, from a key provider; key material never leaves repr/logs.

Providers (chosen by CARDLAKE_KEY_PROVIDER):
- ``file`` (default, dev only): a local 0600 JSON file generated on first use.
- ``env``: CARDLAKE_KEYS holds the same JSON document.
- ``aws-secretsmanager:<secret-id>`` / ``gcp-secretmanager:<resource>``: the JSON document
  stored as a secret; the SDKs are imported only when used.

Document shape: {"dev_only": bool, "keys": {"pan": {"current": 2, "versions": {"1": "<hex>",
"2": "<hex>"}, "ids": {"1": "<random>", "2": "<random>"}}, "pii": {...}}}. Only the current
version of a key ever makes new tokens; "ids" name the versions (documents made before them
have none).

`cardlake keys` changes the document of the ``file`` and ``aws-secretsmanager`` providers
(load_key_document / save_key_document); in Secrets Manager each change is a new secret
version, which becomes AWSCURRENT while the one it replaced becomes AWSPREVIOUS.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from etl.errors import CardlakeError, optional_sdk
from etl.fileio import write_atomically
from etl.settings import settings

KEY_NAMES = ("pan", "pii")
MIN_KEY_BYTES = 32
# Times one secret version may have been rolled back to before a write to it gives up.
MAX_ROLLBACKS = 20  # 256-bit keys: well above PCI's 128-bit effective strength


@dataclass(frozen=True)
class TokenKey:
    name: str
    version: int
    material: bytes = field(repr=False)
    # A random id of this version (not derived from the material): two documents both at
    # "pan v1" hold different keys, and their ids tell them apart. "" in older documents.
    key_id: str = ""


class KeyProvider(Protocol):
    def current(self, name: str) -> TokenKey: ...


class DocumentKeyProvider:
    """Keys held in a parsed key document."""

    def __init__(self, document: dict[str, Any], source: str) -> None:
        self._document = document
        self.source = source
        self.dev_only = bool(document.get("dev_only", False))

    def __repr__(self) -> str:
        return f"DocumentKeyProvider(source={self.source!r})"

    def as_env_value(self) -> str:
        """The key document as CARDLAKE_KEYS holds it (the env provider): for handing keys
        to a child job process, never for printing."""
        return json.dumps(self._document)

    def current(self, name: str) -> TokenKey:
        entry = self._document.get("keys", {}).get(name)
        if not entry:
            raise CardlakeError(f"key {name!r} is not defined in {self.source}")
        version = int(entry["current"])
        hex_material = entry["versions"].get(str(version))
        if hex_material is None:
            raise CardlakeError(f"key {name!r} version {version} is missing in {self.source}")
        material = bytes.fromhex(hex_material)
        if len(material) < MIN_KEY_BYTES:
            raise CardlakeError(
                f"key {name!r} v{version} in {self.source} is shorter than {MIN_KEY_BYTES} bytes"
            )
        return TokenKey(name, version, material, str(entry.get("ids", {}).get(str(version), "")))


def new_key_document(dev_only: bool) -> dict[str, Any]:
    return {
        "dev_only": dev_only,
        "keys": {
            name: {
                "current": 1,
                "versions": {"1": secrets.token_bytes(32).hex()},
                "ids": {"1": new_key_id()},
            }
            for name in KEY_NAMES
        },
    }


def new_key_id() -> str:
    """A random name for one key version, recorded with the tokens it makes."""
    return secrets.token_hex(8)


def _entry(document: dict[str, Any], name: str) -> dict[str, Any]:
    entry: dict[str, Any] | None = document["keys"].get(name)
    if entry is None:
        raise CardlakeError(f"key {name!r} is not defined in the key document")
    return entry


def rotate(document: dict[str, Any], name: str) -> int:
    """Add a new current version of one key; older versions stay only for audit."""
    entry = _entry(document, name)
    version = max(int(v) for v in entry["versions"]) + 1
    entry["versions"][str(version)] = secrets.token_bytes(32).hex()
    entry.setdefault("ids", {})[str(version)] = new_key_id()
    entry["current"] = version
    return version


def check_retirable(document: dict[str, Any], name: str, version: int) -> None:
    """A version can be retired if it exists and is not current (whether tokens of it are
    still in use is etl.key_usage's question: this looks at the key document only)."""
    entry = _entry(document, name)
    if int(entry["current"]) == version:
        raise CardlakeError(f"key {name!r} v{version} is current: rotate before retiring it")
    if str(version) not in entry["versions"]:
        raise CardlakeError(f"key {name!r} has no version {version}")


def retire(document: dict[str, Any], name: str, version: int) -> None:
    """Delete a retired version's material; the current version can never be retired."""
    check_retirable(document, name, version)
    del document["keys"][name]["versions"][str(version)]


def describe(document: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(name, current version, all versions) per key: never any material."""
    return [
        (name, int(entry["current"]), ", ".join(sorted(entry["versions"], key=int)))
        for name, entry in sorted(document.get("keys", {}).items())
    ]


def save_key_file(path: Path, document: dict[str, Any]) -> None:
    write_atomically(path, json.dumps(document, indent=2), private=True)


def local_key_file() -> Path:
    current = settings()
    return current.key_file or current.state_dir / "keys" / "dev-keys.json"


def load_or_create_key_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        save_key_file(path, new_key_document(dev_only=True))
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@dataclass
class StoredKeys:
    """A key document as its provider holds it: `where` names the place (a path, a secret),
    `version` the secret version it was read from (None for files and the environment)."""

    document: dict[str, Any] = field(repr=False)
    spec: str
    where: str
    version: str | None = None


def load_key_document(for_update: bool = False) -> StoredKeys:
    """The configured provider's key document; for_update refuses read-only providers."""
    current = settings()
    spec = current.key_provider
    kind, _, ref = spec.partition(":")
    if for_update and kind in ("env", "gcp-secretmanager"):
        raise CardlakeError(
            f"CARDLAKE_KEY_PROVIDER={kind} is read-only for cardlake: change the key document "
            "where it is kept (`cardlake keys` changes the file and aws-secretsmanager "
            "providers' documents only)"
        )
    if spec == "file":
        path = local_key_file()
        return StoredKeys(load_or_create_key_file(path), spec, str(path))
    if spec == "env":
        if current.keys is None:
            raise CardlakeError("CARDLAKE_KEY_PROVIDER=env but CARDLAKE_KEYS is not set")
        return StoredKeys(
            _parsed(current.keys.get_secret_value(), "CARDLAKE_KEYS"), spec, "CARDLAKE_KEYS"
        )
    if kind == "aws-secretsmanager" and ref:
        where = _aws_where(ref)
        with _aws_errors(ref, "read"):
            response = _secretsmanager().get_secret_value(SecretId=ref, VersionStage="AWSCURRENT")
        text = response.get("SecretString")
        return StoredKeys(_parsed(text, where), spec, where, str(response["VersionId"]))
    return StoredKeys(_parsed(_gcp_secret(spec), spec), spec, spec)


def save_key_document(stored: StoredKeys) -> None:
    """Write a changed document back where it was read from. A secret gets a new version,
    only if the one read is still AWSCURRENT: two concurrent changes never drop one."""
    kind, _, ref = stored.spec.partition(":")
    if stored.spec == "file":
        save_key_file(Path(stored.where), stored.document)
        return
    if kind != "aws-secretsmanager" or stored.version is None:
        raise CardlakeError(f"cardlake cannot write the key document in {stored.where}")
    conflict = CardlakeError(
        f"{stored.where} changed while this command ran (its AWSCURRENT is no longer version "
        f"{stored.version}): nothing was written; run `cardlake keys show` and try again"
    )
    # The new version's id derives from the one it replaces: of two writers that read the
    # same version, Secrets Manager accepts only the first (the other's token is taken). A
    # taken token with that version still AWSCURRENT means the version's earlier successor
    # was rolled back: the next token in the sequence, which racing writers share too.
    with _aws_errors(ref, "write"):
        client = _secretsmanager()
        for attempt in range(MAX_ROLLBACKS + 1):
            now = client.get_secret_value(SecretId=ref, VersionStage="AWSCURRENT")["VersionId"]
            if now != stored.version:
                raise conflict
            suffix = f":{attempt}" if attempt else ""
            token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cardlake-keys:{stored.version}{suffix}"))
            try:
                written = client.put_secret_value(
                    SecretId=ref, SecretString=json.dumps(stored.document), ClientRequestToken=token
                )
                break
            except client.exceptions.ResourceExistsException:
                continue
        else:
            raise conflict
    stored.version = str(written["VersionId"])


def _parsed(text: str | None, where: str) -> dict[str, Any]:
    """The key document in text, or one line saying it is not one (never quoting text)."""
    try:
        document = json.loads(text or "")
        entries = document["keys"]
        valid = isinstance(entries, dict) and all(
            str(entry["current"]) in entry["versions"]
            and all(len(bytes.fromhex(h)) > 0 for h in entry["versions"].values())
            for entry in entries.values()
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        valid = False
    if not valid:
        raise CardlakeError(
            f'{where} does not hold a cardlake key document (JSON with "keys": {{name: '
            '{"current": N, "versions": {"N": "<hex>"}}}): store one, or fix '
            "CARDLAKE_KEY_PROVIDER"
        )
    return dict(document)


def _aws_where(secret_id: str) -> str:
    return f"AWS Secrets Manager secret {secret_id!r}"


def _secretsmanager() -> Any:
    boto3 = optional_sdk("boto3", "aws", "the aws-secretsmanager key provider")
    return boto3.client("secretsmanager")


_AWS_HINTS = {
    "ResourceNotFoundException": "does not exist (create it holding a key document, or fix "
    "CARDLAKE_KEY_PROVIDER and AWS_REGION)",
    "AccessDeniedException": "access denied (the caller needs secretsmanager:GetSecretValue, "
    "and PutSecretValue to rotate or retire, on it)",
    "DecryptionFailure": "cannot be decrypted (the caller needs kms:Decrypt on its KMS key)",
    "UnrecognizedClientException": "AWS rejected the credentials (check AWS_PROFILE or "
    "AWS_ACCESS_KEY_ID, or refresh the session)",
    "InvalidSignatureException": "AWS rejected the credentials' signature (check "
    "AWS_SECRET_ACCESS_KEY)",
    "ExpiredTokenException": "the AWS session has expired (refresh the credentials)",
}


@contextlib.contextmanager
def _aws_errors(secret_id: str, action: str) -> Iterator[None]:
    """botocore's failures as one CardlakeError line naming the secret (never its value)."""
    aws = optional_sdk("botocore.exceptions", "aws", "the aws-secretsmanager key provider")
    where = _aws_where(secret_id)
    try:
        yield
    except (aws.NoCredentialsError, aws.PartialCredentialsError):
        raise CardlakeError(
            f"cannot {action} {where}: no AWS credentials (set AWS_PROFILE, or "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run under a role)"
        ) from None
    except aws.NoRegionError:
        raise CardlakeError(f"cannot {action} {where}: no AWS region (set AWS_REGION)") from None
    except aws.ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "error"))
        message = str(error.get("Message", "")).strip().splitlines()
        hint = _AWS_HINTS.get(code, f"{code}: {message[0] if message else 'no message'}")
        raise CardlakeError(f"cannot {action} {where}: {hint}") from None
    except aws.BotoCoreError as exc:
        raise CardlakeError(f"cannot {action} {where}: {exc}") from None


def _gcp_secret(spec: str) -> str:
    kind, _, ref = spec.partition(":")
    if kind == "gcp-secretmanager":
        secretmanager = optional_sdk(
            "google.cloud.secretmanager", "gcp", "the gcp-secretmanager key provider"
        )

        response = secretmanager.SecretManagerServiceClient().access_secret_version(name=ref)
        return str(response.payload.data.decode("utf-8"))
    raise CardlakeError(
        f"unknown CARDLAKE_KEY_PROVIDER {spec!r}: use file, env, "
        "aws-secretsmanager:<secret-id> or gcp-secretmanager:<resource>"
    )


def key_provider() -> DocumentKeyProvider:
    stored = load_key_document()
    return DocumentKeyProvider(stored.document, stored.where)
