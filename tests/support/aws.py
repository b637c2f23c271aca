"""A real S3/Glue/Secrets Manager API for tests: moto in server mode on a free loopback port.

`moto_server()` starts it and yields its endpoint; `aws_env(endpoint)` is the environment
that points boto3 and pyarrow's S3 filesystem at it (standard AWS variables only, so the
code under test is configured exactly as it would be against AWS).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3

from devstack.localproc import free_port

BIN = Path(sys.executable).parent
REGION = "ap-northeast-1"
ACCESS_KEY = "testing"


@contextlib.contextmanager
def moto_server(log_dir: Path, **env: str) -> Iterator[str]:
    """Run moto_server until the block ends; yields `http://127.0.0.1:<port>`."""

    port = free_port()
    log = log_dir / "moto.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(BIN / "moto_server"), "-p", str(port), "-H", "127.0.0.1"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.3)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


def aws_env(endpoint: str, access_key: str = ACCESS_KEY, secret_key: str = "testing") -> dict:
    """Environment variables that point every AWS client at the test server."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key="testing",
    )


def federation_config() -> dict[str, Any]:
    """A Workload Identity Federation configuration from an AWS role to Google, as `gcloud
    iam workload-identity-pools create-cred-config --aws` writes it: no secret inside."""
    return {
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/123456789/locations/global/"
        "workloadIdentityPools/cardlake/providers/aws-glue",
        "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
        "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/"
        "projects/-/serviceAccounts/loader@my-gcp-project.iam.gserviceaccount.com"
        ":generateAccessToken",
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": {
            "environment_id": "aws1",
            "region_url": "http://169.254.169.254/latest/meta-data/placement/availability-zone",
            "url": "http://169.254.169.254/latest/meta-data/iam/security-credentials",
            "regional_cred_verification_url": "https://sts.{region}.amazonaws.com"
            "?Action=GetCallerIdentity&Version=2011-06-15",
        },
    }
