"""The aws-secretsmanager key provider against a real Secrets Manager API: moto in server mode
on loopback. `cardlake keys` (the installed entry point) reads the key document from the
secret and writes each change back as a new secret version; Secrets Manager makes it
AWSCURRENT and the one it replaced AWSPREVIOUS. No Spark, no MariaDB, no warehouse."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.localproc import free_port
from etl.errors import EXIT_ERROR, CardlakeError
from masking import keys, reference
from tests.support.aws import aws_env, client, moto_server
from tests.support.cli import error_line, run_cardlake

PAN = "4111 1111 1111 1111"


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture()
def secret(moto_endpoint: str) -> tuple[str, dict[str, Any]]:
    """A new secret holding a production-shaped key document generated here."""
    secret_id = f"cardlake/token-keys-{secrets.token_hex(4)}"
    document = keys.new_key_document(dev_only=False)
    client(moto_endpoint, "secretsmanager").create_secret(
        Name=secret_id, SecretString=json.dumps(document)
    )
    return secret_id, document


def _env(home: Path, endpoint: str, secret_id: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARDLAKE_", "AWS_", "BOTO"))}
    env.update(aws_env(endpoint))
    env.update(
        CARDLAKE_HOME=str(home),
        CARDLAKE_KEY_PROVIDER=f"aws-secretsmanager:{secret_id}",
        # A warehouse that is never there: retire must refuse, not retire unchecked.
        CARDLAKE_BQ_ENDPOINT=f"http://127.0.0.1:{free_port()}",
    )
    env.update(extra)
    return env


def _materials(*documents: dict[str, Any]) -> set[str]:
    return {
        material
        for document in documents
        for entry in document["keys"].values()
        for material in entry["versions"].values()
    }


class Cli:
    """The installed entry point on the test server; every output is checked for material."""

    def __init__(self, home: Path, endpoint: str, secret_id: str) -> None:
        self.home, self.endpoint, self.secret_id = home, endpoint, secret_id
        self.seen: list[str] = []

    def __call__(
        self, *args: str, code: int = 0, unset: tuple[str, ...] = (), **env: str
    ) -> subprocess.CompletedProcess:
        child = _env(self.home, self.endpoint, self.secret_id, **env)
        for name in unset:
            del child[name]
        proc = run_cardlake("keys", *args, env=child, code=code, timeout=120, cwd=self.home)
        self.seen.append(proc.stdout + proc.stderr)
        return proc

    def error_line(self, *args: str, unset: tuple[str, ...] = (), **env: str) -> str:
        """The one `cardlake: error:` line (exit 2) of a refused command."""
        proc = self(*args, code=EXIT_ERROR, unset=unset, **env)
        line = error_line(proc)
        assert proc.stderr.strip() == line and not proc.stdout.strip()
        return line

    def assert_no_material(self, *documents: dict[str, Any]) -> None:
        output = "\n".join(self.seen)
        for material in _materials(*documents):
            assert material not in output and material.upper() not in output


@pytest.fixture()
def cli(tmp_path: Path, moto_endpoint: str, secret: tuple[str, dict[str, Any]]) -> Cli:
    return Cli(tmp_path, moto_endpoint, secret[0])


def _stages(endpoint: str, secret_id: str) -> dict[str, list[str]]:
    listed = client(endpoint, "secretsmanager").list_secret_version_ids(SecretId=secret_id)
    return {v["VersionId"]: v.get("VersionStages", []) for v in listed["Versions"]}


def _current(endpoint: str, secret_id: str) -> tuple[str, dict[str, Any]]:
    value = client(endpoint, "secretsmanager").get_secret_value(SecretId=secret_id)
    return value["VersionId"], json.loads(value["SecretString"])


def _in_process_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: str, secret_id: str
) -> None:
    for name in list(os.environ):
        if name.startswith(("CARDLAKE_", "AWS_")):
            monkeypatch.delenv(name)
    for name, value in _env(tmp_path, endpoint, secret_id).items():
        if name.startswith(("CARDLAKE_", "AWS_")):
            monkeypatch.setenv(name, value)


def test_show_and_rotate_make_a_new_current_secret_version(
    cli: Cli,
    secret: tuple[str, dict[str, Any]],
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    secret_id, original = secret
    first_version, _ = _current(moto_endpoint, secret_id)

    shown = cli("show").stdout
    assert f"AWS Secrets Manager secret '{secret_id}'" in shown
    assert first_version in shown and "dev-only" not in shown
    assert [line.split()[:2] for line in shown.splitlines()[2:4]] == [["pan", "1"], ["pii", "1"]]

    rotated = cli("rotate", "--name", "pan").stdout
    assert "pan is now v2" in rotated

    new_version, document = _current(moto_endpoint, secret_id)
    assert new_version != first_version and new_version in rotated
    assert _stages(moto_endpoint, secret_id) == {
        first_version: ["AWSPREVIOUS"],
        new_version: ["AWSCURRENT"],
    }
    pan = document["keys"]["pan"]
    assert pan["current"] == 2
    assert pan["versions"]["1"] == original["keys"]["pan"]["versions"]["1"]  # kept until retired
    assert pan["versions"]["2"] not in _materials(original)
    assert document["keys"]["pii"] == original["keys"]["pii"]
    assert document["dev_only"] is False

    # What a run would use: the provider, in this process, on the same secret.
    _in_process_env(monkeypatch, tmp_path, moto_endpoint, secret_id)
    provider = keys.key_provider()
    pan_key, pii_key = provider.current("pan"), provider.current("pii")
    assert (pan_key.version, pan_key.material.hex()) == (2, pan["versions"]["2"])
    assert (pii_key.version, pii_key.material.hex()) == (
        1,
        original["keys"]["pii"]["versions"]["1"],
    )
    # Tokens carry no version themselves: the run writes TokenKey.version next to each token
    # (`<col>_token_key_version`); the token is the HMAC under that version's material.
    token = reference.token(PAN, pan_key.material, "pan")
    digits = PAN.replace(" ", "")
    for version, material in pan["versions"].items():
        expected = hmac.new(bytes.fromhex(material), digits.encode(), hashlib.sha256).digest()
        assert (token == expected) == (version == str(pan_key.version))

    assert "pan" in cli("show").stdout
    cli.assert_no_material(original, document)


def test_retire_refuses_the_current_version_and_an_unchecked_one(
    cli: Cli, secret: tuple[str, dict[str, Any]], moto_endpoint: str
) -> None:
    secret_id, original = secret
    before = _current(moto_endpoint, secret_id)

    line = cli.error_line("retire", "--name", "pan", "--version", "1")
    assert line == "cardlake: error: key 'pan' v1 is current: rotate before retiring it"
    assert _current(moto_endpoint, secret_id) == before

    cli("rotate", "--name", "pan")
    rotated = _current(moto_endpoint, secret_id)
    # v1 is no longer current, but whether anything still holds it needs the warehouse's
    # raw tables; none is reachable here, so nothing is retired. (Retiring an unused version
    # needs the BigQuery emulator: tests/e2e/test_rotation_cli.py covers it with the file
    # provider, and test_retire_writes_a_new_version_without_the_material below covers the
    # secret write.)
    line = cli.error_line("retire", "--name", "pan", "--version", "1")
    assert "cannot retire pan v1: the warehouse's raw tables could not be checked" in line
    assert line.endswith("nothing was retired")
    assert _current(moto_endpoint, secret_id) == rotated
    cli.assert_no_material(original, rotated[1])


def test_retire_writes_a_new_version_without_the_material(
    secret: tuple[str, dict[str, Any]],
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    secret_id, original = secret
    _in_process_env(monkeypatch, tmp_path, moto_endpoint, secret_id)
    stored = keys.load_key_document(for_update=True)
    keys.rotate(stored.document, "pii")
    keys.save_key_document(stored)
    rotated_version = stored.version

    stored = keys.load_key_document(for_update=True)
    assert stored.version == rotated_version
    keys.retire(stored.document, "pii", 1)
    keys.save_key_document(stored)

    version, document = _current(moto_endpoint, secret_id)
    assert version == stored.version != rotated_version
    assert document["keys"]["pii"]["versions"].keys() == {"2"}
    assert original["keys"]["pii"]["versions"]["1"] not in json.dumps(document)
    assert _stages(moto_endpoint, secret_id)[rotated_version] == ["AWSPREVIOUS"]


def test_concurrent_changes_never_drop_one(
    secret: tuple[str, dict[str, Any]],
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret_id, _ = secret
    _in_process_env(monkeypatch, tmp_path, moto_endpoint, secret_id)
    sm = client(moto_endpoint, "secretsmanager")

    # Two rotations read the same version; the second to write is refused.
    first, second = keys.load_key_document(True), keys.load_key_document(True)
    keys.rotate(first.document, "pan")
    keys.rotate(second.document, "pii")
    keys.save_key_document(first)
    with pytest.raises(CardlakeError, match="changed while this command ran") as refused:
        keys.save_key_document(second)
    assert secret_id in str(refused.value) and "nothing was written" in str(refused.value)
    _, document = _current(moto_endpoint, secret_id)
    assert (document["keys"]["pan"]["current"], document["keys"]["pii"]["current"]) == (2, 1)

    # A writer that checked before the other wrote still loses: the new version's id
    # derives from the version read, and Secrets Manager refuses a second use of it.
    first, second = keys.load_key_document(True), keys.load_key_document(True)
    keys.rotate(first.document, "pan")
    keys.rotate(second.document, "pii")
    real_get = keys._secretsmanager

    def checked_before_the_other_wrote() -> Any:
        monkeypatch.setattr(keys, "_secretsmanager", real_get)
        keys.save_key_document(first)  # lands between second's check and its write
        api = real_get()
        reads = iter([{"VersionId": second.version}])  # the check saw the version it read
        real_read = api.get_secret_value
        api.get_secret_value = lambda **kw: next(reads, None) or real_read(**kw)
        return api

    monkeypatch.setattr(keys, "_secretsmanager", checked_before_the_other_wrote)
    with pytest.raises(CardlakeError, match="changed while this command ran"):
        keys.save_key_document(second)
    assert _stages(moto_endpoint, secret_id)[first.version] == ["AWSCURRENT"]

    # Through the CLI: a change written between this rotation's read and its write.
    real_load = keys.load_key_document

    def load_then_someone_writes(for_update: bool = False) -> keys.StoredKeys:
        stored = real_load(for_update)
        sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(stored.document))
        return stored

    monkeypatch.setattr(keys, "load_key_document", load_then_someone_writes)
    from cardlake.cli import main

    capsys.readouterr()
    assert main(["keys", "rotate", "--name", "pan"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cardlake: error: "), captured.err
    assert f"AWS Secrets Manager secret '{secret_id}' changed while this command ran" in err[0]
    monkeypatch.setattr(keys, "load_key_document", real_load)

    # An operator rolls AWSCURRENT back to an earlier version (its successor's token is
    # taken): a change to the rolled-back version is still written, on top of it, twice.
    for _ in range(2):
        rolled_back = keys.load_key_document(True)
        keys.rotate(rolled_back.document, "pii")
        keys.save_key_document(rolled_back)
        earlier = keys.load_key_document(True)
        sm.update_secret_version_stage(
            SecretId=secret_id,
            VersionStage="AWSCURRENT",
            MoveToVersionId=second.version,
            RemoveFromVersionId=earlier.version,
        )
        again = keys.load_key_document(True)
        assert again.version == second.version
        keys.rotate(again.document, "pan")
        keys.save_key_document(again)
        assert _stages(moto_endpoint, secret_id)[again.version] == ["AWSCURRENT"]


def test_bad_input_gets_one_line_naming_the_secret(
    cli: Cli, secret: tuple[str, dict[str, Any]], moto_endpoint: str, tmp_path: Path
) -> None:
    secret_id, original = secret
    sm = client(moto_endpoint, "secretsmanager")

    missing = f"cardlake/no-such-{secrets.token_hex(4)}"
    line = cli.error_line("show", CARDLAKE_KEY_PROVIDER=f"aws-secretsmanager:{missing}")
    assert line == (
        f"cardlake: error: cannot read AWS Secrets Manager secret '{missing}': does not exist "
        "(create it holding a key document, or fix CARDLAKE_KEY_PROVIDER and AWS_REGION)"
    )

    nowhere = str(tmp_path / "no-aws-config")
    line = cli.error_line(
        "rotate",
        "--name",
        "pan",
        unset=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
        AWS_SHARED_CREDENTIALS_FILE=nowhere,
        AWS_CONFIG_FILE=nowhere,
    )
    assert line == (
        f"cardlake: error: cannot read AWS Secrets Manager secret '{secret_id}': no AWS "
        "credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run "
        "under a role)"
    )

    # Not a key document: not JSON, JSON of another shape, binary. The value is never quoted.
    material = secrets.token_hex(32)
    for name, value in {
        "not-json": {"SecretString": f"pan={material}"},
        "other-json": {"SecretString": json.dumps({"pan": material})},
        "binary": {"SecretBinary": bytes.fromhex(material)},
    }.items():
        other = f"cardlake/{name}-{secrets.token_hex(4)}"
        sm.create_secret(Name=other, **value)
        line = cli.error_line("show", CARDLAKE_KEY_PROVIDER=f"aws-secretsmanager:{other}")
        assert line.startswith(
            f"cardlake: error: AWS Secrets Manager secret '{other}' does not hold a cardlake "
            "key document"
        )
        assert material not in "\n".join(cli.seen)

    # The env provider stays read-only; its document can still be shown.
    line = cli.error_line(
        "rotate",
        "--name",
        "pan",
        CARDLAKE_KEY_PROVIDER="env",
        CARDLAKE_KEYS=json.dumps(original),
    )
    assert "CARDLAKE_KEY_PROVIDER=env is read-only" in line
    shown = cli("show", CARDLAKE_KEY_PROVIDER="env", CARDLAKE_KEYS=json.dumps(original)).stdout
    assert "key document: CARDLAKE_KEYS" in shown

    assert _current(moto_endpoint, secret_id)[1] == original
    cli.assert_no_material(original)
