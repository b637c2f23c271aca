"""Token keys by name and version, from a key provider; key material never leaves repr/logs.

Providers (chosen by CARDLAKE_KEY_PROVIDER):
- ``file`` (default, dev only): a local 0600 JSON file generated on first use.
- ``env``: CARDLAKE_KEYS holds the same JSON document.
- ``aws-secretsmanager:<secret-id>`` / ``gcp-secretmanager:<resource>``: the JSON document
  stored as a secret; the SDKs are imported only when used.

Document shape: {"dev_only": bool, "keys": {"pan": {"current": 2, "versions": {"1": "<hex>",
"2": "<hex>"}}, "pii": {...}}}. Only the current version of a key ever makes new tokens.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from etl.errors import CardlakeError, optional_sdk
from etl.fileio import write_atomically
from etl.settings import settings

KEY_NAMES = ("pan", "pii")
MIN_KEY_BYTES = 32  # 256-bit keys: well above PCI's 128-bit effective strength


@dataclass(frozen=True)
class TokenKey:
    name: str
    version: int
    material: bytes = field(repr=False)


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
        return TokenKey(name, version, material)


def new_key_document(dev_only: bool) -> dict[str, Any]:
    return {
        "dev_only": dev_only,
        "keys": {
            name: {"current": 1, "versions": {"1": secrets.token_bytes(32).hex()}}
            for name in KEY_NAMES
        },
    }


def rotate(document: dict[str, Any], name: str) -> int:
    """Add a new current version of one key; older versions stay only for audit."""
    entry = document["keys"][name]
    version = max(int(v) for v in entry["versions"]) + 1
    entry["versions"][str(version)] = secrets.token_bytes(32).hex()
    entry["current"] = version
    return version


def check_retirable(document: dict[str, Any], name: str, version: int) -> None:
    """A version can be retired if it exists and is not current (whether tokens of it are
    still in use is etl.key_usage's question: this looks at the key document only)."""
    entry = document["keys"][name]
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


def _cloud_secret(spec: str) -> str:
    kind, _, ref = spec.partition(":")
    if kind == "aws-secretsmanager":
        boto3 = optional_sdk("boto3", "aws", "the aws-secretsmanager key provider")
        value: str = boto3.client("secretsmanager").get_secret_value(SecretId=ref)["SecretString"]
        return value
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
    current = settings()
    spec = current.key_provider
    if spec == "file":
        path = local_key_file()
        return DocumentKeyProvider(load_or_create_key_file(path), str(path))
    if spec == "env":
        if current.keys is None:
            raise CardlakeError("CARDLAKE_KEY_PROVIDER=env but CARDLAKE_KEYS is not set")
        return DocumentKeyProvider(json.loads(current.keys.get_secret_value()), "CARDLAKE_KEYS")
    return DocumentKeyProvider(json.loads(_cloud_secret(spec)), spec)
