"""`cardlake glue package` round-trips through a real Glue API: moto in server mode on
loopback. The installed entry point writes the bundle; boto3 creates the connection, job and
trigger from its JSON exactly as `aws glue create-* --cli-input-json` would, and reads them
back. The README's deploy commands run the same way, against the same server."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import REGION, client, federation_config, moto_server
from tests.support.cli import run_cardlake
from tests.support.session import REPO

README = (REPO / "README.md").read_text()


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


def package(tmp_path: Path, *args: str, code: int = 0, **env: str) -> subprocess.CompletedProcess:
    child = {k: v for k, v in os.environ.items() if not k.startswith("CARDLAKE_")}
    child.update(CARDLAKE_HOME=str(tmp_path / "home"), **env)
    return run_cardlake("glue", "package", *args, env=child, code=code, timeout=300, cwd=tmp_path)


def bundle_json(bundle: Path, name: str) -> dict[str, Any]:
    return json.loads((bundle / name).read_text())


def test_the_bundle_round_trips_through_glue(tmp_path: Path, moto_endpoint: str) -> None:
    bundle = tmp_path / "bundle"
    password, keys = secrets.token_hex(16), secrets.token_hex(32)
    package(
        tmp_path,
        "--out",
        str(bundle),
        "--schedule-jst",
        "09:15",
        "--workers",
        "5",
        "--worker-type",
        "G.2X",
        "--job-name",
        "extract-test",
        "--role-arn",
        "arn:aws:iam::111122223333:role/etl",
        "--script-bucket",
        "s3://issuer-etl/cardlake/prod",
        "--connection-name",
        "etl-reader",
        "--reader-endpoint",
        "etl.cluster-custom-xyz.ap-northeast-1.rds.amazonaws.com:3306",
        # Secrets in the environment must not reach any bundle file.
        CARDLAKE_SOURCE_PASSWORD=password,
        CARDLAKE_KEYS=json.dumps({"pan": keys}),
    )
    glue = client(moto_endpoint, "glue")
    glue.create_connection(**bundle_json(bundle, "connection.json"))
    glue.create_job(**bundle_json(bundle, "job.json"))
    glue.create_trigger(**bundle_json(bundle, "trigger.json"))

    job = glue.get_job(JobName="extract-test")["Job"]
    assert job["GlueVersion"] == "5.0"
    assert (job["WorkerType"], job["NumberOfWorkers"]) == ("G.2X", 5)
    assert job["Command"] == {
        "Name": "glueetl",
        "ScriptLocation": "s3://issuer-etl/cardlake/prod/glue/extract_table.py",
        "PythonVersion": "3",
    }
    assert job["Connections"] == {"Connections": ["etl-reader"]}
    arguments = job["DefaultArguments"]
    jars = arguments["--extra-jars"].split(",")
    assert "s3://issuer-etl/cardlake/prod/glue/cardlake-masking.jar" in jars
    assert all((bundle / jar.rsplit("/", 1)[1]).is_file() for jar in jars)
    modules = arguments["--additional-python-modules"].split(",")
    assert not [m for m in modules if "pyspark" in m.lower()]
    assert not [m for m in modules if re.match(r"(typer|rich|altair|vl-convert)", m)]
    assert modules[0].endswith(".whl") and (bundle / modules[0].rsplit("/", 1)[1]).is_file()
    assert "pandas==" in arguments["--additional-python-modules"]
    assert (arguments["--all"], arguments["--job-language"]) == ("true", "python")
    assert not [a for a in arguments if re.search("PASSWORD|SECRET_KEY|CARDLAKE_KEYS$", a)]

    connection = glue.get_connection(Name="etl-reader")["Connection"]
    properties = connection["ConnectionProperties"]
    assert properties["JDBC_CONNECTION_URL"] == (
        "jdbc:mysql://etl.cluster-custom-xyz.ap-northeast-1.rds.amazonaws.com:3306/cardissuer"
    )
    assert properties["SECRET_ID"] == "cardlake/etl-reader"
    assert "PASSWORD" not in properties and "USERNAME" not in properties
    assert connection["PhysicalConnectionRequirements"]["SubnetId"].startswith("subnet-")

    trigger = glue.get_trigger(Name="extract-test-daily")["Trigger"]
    # 09:15 in Tokyo is 00:15 UTC.
    assert (trigger["Type"], trigger["Schedule"]) == ("SCHEDULED", "cron(15 0 * * ? *)")
    assert trigger["Actions"] == [{"JobName": "extract-test"}]

    for path in bundle.iterdir():
        data = path.read_bytes()
        assert password.encode() not in data and keys.encode() not in data, path
        if path.suffix == ".json":
            assert not re.search(r'"(PASSWORD|password|SecretString)"', path.read_text())

    # The wheel holds the packages the job script imports, with their data files.
    [wheel] = bundle.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"etl/__init__.py", "etl/jobs/extract_table.py", "masking/__init__.py"} <= names
    sql = {p.relative_to(REPO).as_posix() for p in (REPO / "warehouse_sql").glob("*/*.sql")}
    assert sql and sql <= names
    assert "etl/contracts/manifests/cards.yaml" in names
    assert not [n for n in names if n.split("/")[0] in ("cardlake", "devstack", "dashboards")]
    assert not [n for n in names if n.startswith("masking/jvm/") or "__pycache__" in n]
    # Installed as Glue installs it (pip), the job finds its manifests: they are files.
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    subprocess.run(
        [*pip, "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from etl.contracts.manifest import table_names; import etl; "
        "assert etl.__file__.startswith(sys.argv[1]), etl.__file__; print(table_names())"
    )
    tables = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(site)],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    assert "'transactions'" in tables and "'members'" in tables


def _readme_block(tag: str, language: str) -> str:
    match = re.search(rf"<!-- glue: {tag} -->\n```{language}\n(.*?)```", README, flags=re.S)
    assert match, f"the README's `<!-- glue: {tag} -->` block"
    return match.group(1)


def test_the_readme_deploy_commands_work_on_the_bundle(tmp_path: Path, moto_endpoint: str) -> None:
    """Each line of the README's deploy block, run against moto: `cardlake glue package` by
    the installed entry point, each `aws …` by the boto3 call it stands for."""
    s3, iam, glue = (client(moto_endpoint, name) for name in ("s3", "iam", "glue"))
    # What `gcloud iam workload-identity-pools create-cred-config --aws` writes.
    (tmp_path / "gcp-federation.json").write_text(json.dumps(federation_config()))
    created = []
    for line in _readme_block("deploy", "text").replace("\\\n", " ").splitlines():
        words = shlex.split(line)
        if not words:
            continue
        if words[0] == "cardlake":
            assert words[1:3] == ["glue", "package"], line
            package(tmp_path, *words[3:])
            continue
        options = {w: words[i + 1] for i, w in enumerate(words) if w.startswith("--")}
        files = {
            k: tmp_path / v.removeprefix("file://") for k, v in options.items() if "file://" in v
        }
        match words[:3]:
            case ["aws", "s3", "cp"]:
                bucket, _, prefix = words[5].removeprefix("s3://").partition("/")
                s3.create_bucket(
                    Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
                )
                included = [words[i + 1] for i, w in enumerate(words) if w == "--include"]
                for path in (tmp_path / words[4]).iterdir():
                    if any(fnmatch.fnmatch(path.name, pattern) for pattern in included):
                        s3.upload_file(str(path), bucket, prefix + path.name)
            case ["aws", "iam", "put-role-policy"]:
                role = options["--role-name"]
                iam.create_role(RoleName=role, AssumeRolePolicyDocument=GLUE_TRUST)
                iam.put_role_policy(
                    RoleName=role,
                    PolicyName=options["--policy-name"],
                    PolicyDocument=files["--policy-document"].read_text(),
                )
            case ["aws", "glue", command]:
                assert options["--region"] == REGION
                document = json.loads(files["--cli-input-json"].read_text())
                getattr(glue, command.replace("-", "_"))(**document)
                created.append(command)
            case _:
                raise AssertionError(f"a README deploy line this test does not know: {line}")
    assert created == ["create-connection", "create-job", "create-trigger"]

    job = glue.get_job(JobName="cardlake-extract")["Job"]
    script = job["Command"]["ScriptLocation"].removeprefix("s3://")
    bucket, _, key = script.partition("/")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read().startswith(b'"""Glue job')
    arguments = job["DefaultArguments"]
    uploads = [*arguments["--extra-jars"].split(","), arguments["--extra-files"]]
    for upload in uploads:
        bucket, _, key = upload.removeprefix("s3://").partition("/")
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert json.loads(body) == federation_config()
    assert arguments["--CARDLAKE_BQ_CREDENTIALS"] == "gcp-federation.json"
    trigger = glue.get_trigger(Name="cardlake-extract-daily")["Trigger"]
    assert trigger["Schedule"] == "cron(30 17 * * ? *)"  # 02:30 in Tokyo
    policy = iam.get_role_policy(RoleName="cardlake-glue-etl", PolicyName="cardlake-etl")
    bundle = tmp_path / shlex.split(_readme_block("deploy", "text"))[4]
    assert policy["PolicyDocument"] == json.loads((bundle / "iam-policy.json").read_text())
    # The README's policy is the bundle's, word for word.
    assert json.loads(_readme_block("iam-policy", "json")) == policy["PolicyDocument"]


GLUE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "glue.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--schedule-jst", "2:30pm"], "'2:30pm' is not a time like 02:30"),
        (["--schedule-jst", "24:00"], "'24:00' is not a time like 02:30"),
        (["--workers", "1"], "a Glue Spark job needs at least 2"),
        (["--worker-type", "G.3X"], "'G.3X' is not one of G.1X"),
        (["--role-arn", "etl-role"], "is not an IAM role ARN"),
        (["--script-bucket", "issuer-etl/cardlake"], "is not an S3 URI"),
        (["--reader-endpoint", "reader.example"], "is not HOST:PORT"),
        (["--out", "/dev/null/bundle"], "cannot write the bundle to /dev/null/bundle"),
    ],
)
def test_bad_input_is_one_error_line(tmp_path: Path, args: list[str], says: str) -> None:
    proc = package(tmp_path, "--out", str(tmp_path / "bundle"), *args, code=2)
    errors = proc.stderr.splitlines()
    assert len(errors) == 1 and errors[0].startswith("cardlake: error: "), proc.stderr
    assert says in errors[0]
    assert not (tmp_path / "bundle").exists()


def test_bigquery_credentials_are_a_federation_configuration_never_a_key(tmp_path: Path) -> None:
    key_file = tmp_path / "sa-key.json"
    key_file.write_text(json.dumps({"type": "service_account", "client_email": "a@b"}))
    out = tmp_path / "bundle"
    proc = package(tmp_path, "--out", str(out), "--bq-credential-config", str(key_file), code=2)
    [error] = proc.stderr.splitlines()
    assert error.startswith("cardlake: error: ") and "a service-account key is a secret" in error
    assert not out.exists()

    proc = package(tmp_path, "--out", str(out))
    assert "no --bq-credential-config: the job has no BigQuery credentials" in proc.stderr
    assert "--CARDLAKE_BQ_CREDENTIALS" not in bundle_json(out, "job.json")["DefaultArguments"]


def test_a_missing_masking_jar_says_run_make_jar(tmp_path: Path) -> None:
    missing = str(tmp_path / "no.jar")
    proc = package(tmp_path, "--out", str(tmp_path / "b"), code=2, CARDLAKE_MASKING_JAR=missing)
    assert proc.stderr.splitlines() == [
        f"cardlake: error: masking UDF jar not found at {missing}: run `make jar` first "
        "(the Glue job loads it with --extra-jars)"
    ]
