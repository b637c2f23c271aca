"""BigQuery credentials for a job outside Google Cloud: a Workload Identity Federation
configuration (no secret inside), never a service-account key."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from google.auth import aws

from etl.errors import CardlakeError
from etl.load import warehouse
from etl.settings import WarehouseSettings
from tests.support.aws import federation_config

REAL = WarehouseSettings(
    project="my-gcp-project",
    location="asia-northeast1",
    raw_dataset="raw",
    stg_dataset="stg",
    mart_dataset="mart",
    ops_dataset="ops",
    api_endpoint=None,
)


def test_a_federation_configuration_gives_the_client_aws_sourced_credentials(
    tmp_path: Path,
) -> None:
    config = tmp_path / "gcp-federation.json"
    config.write_text(json.dumps(federation_config()))
    client = warehouse.client(replace(REAL, credentials_file=config))
    assert isinstance(client._credentials, aws.Credentials)
    assert client.project == "my-gcp-project"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (json.dumps({"type": "service_account", "client_email": "x@y"}), "'service_account'"),
        ("{not json", "not readable as JSON"),
        (json.dumps({**federation_config(), "credential_source": {}}), "credential configuration"),
    ],
)
def test_keys_and_broken_configurations_are_refused_in_one_line(
    tmp_path: Path, content: str, says: str
) -> None:
    config = tmp_path / "credentials.json"
    config.write_text(content)
    with pytest.raises(CardlakeError, match=says) as refused:
        warehouse.client(replace(REAL, credentials_file=config))
    assert "\n" not in str(refused.value)


def test_a_missing_configuration_names_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    with pytest.raises(CardlakeError, match=str(missing)):
        warehouse.client(replace(REAL, credentials_file=missing))
