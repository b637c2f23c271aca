"""An AWS Glue deployment bundle for the extract job, written as plain files.

`cardlake glue package` calls `write_bundle`. The bundle holds the job script, the
project's own packages as a wheel, the masking UDF and MariaDB JDBC jars, and the JSON
documents that `aws glue create-connection|create-job|create-trigger --cli-input-json` and
`aws iam put-role-policy` take. Nothing here talks to AWS, and no file holds a secret: the
reader's login stays in Secrets Manager (the connection names it), and so do the token keys
(the job names their secret in CARDLAKE_KEY_PROVIDER).

The project's code ships as a wheel through `--additional-python-modules`, not as a zip on
`--extra-py-files`: Glue puts an `--extra-py-files` zip on sys.path as it is, and code
imported from a zip cannot list the packaged table manifests and view SQL as files, which the
job does. Glue pip-installs a wheel, so its package data are plain files.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from etl.errors import CardlakeError
from etl.load.credentials import read_federation_config
from etl.settings import BUSINESS_TIMEZONE, SOURCE_DATABASE, settings

GLUE_VERSION = "5.0"  # Spark 3.5, Python 3.11
WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")
JOB_SCRIPT = "extract_table.py"
FEDERATION_FILE = "gcp-federation.json"
MASKING_JAR = "cardlake-masking.jar"
JDBC_JAR = "mariadb-java-client.jar"
WHEEL_NAME = "cardlake_etl"
# The packages the job imports (checked against its import graph by a unit test).
PACKAGES = ("etl", "masking", "warehouse_sql")
# Dependencies of the cardlake distribution the job does not get from here: Glue 5.0 ships
# Spark 3.5 (a pyspark pin would replace it), and the rest serve only the CLI or dashboards.
NOT_FOR_THE_JOB = {
    "pyspark": "Glue 5.0 provides Spark 3.5",
    "typer": "the CLI",
    "rich": "the CLI",
    "altair": "the dashboards",
    "vl-convert-python": "the dashboards",
}
# Glue creates the network interfaces of a VPC connection's jobs with the job's role.
VPC_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeRouteTables",
]
_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role/[\w+=,.@/-]{1,512}")
_S3_URI = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])((?:/[^/\s]+)*)/?")
_ENDPOINT = re.compile(r"([A-Za-z0-9.-]+):(\d{1,5})")
_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)  # the same code gives the same wheel


@dataclass(frozen=True)
class GlueSpec:
    """What a deployment chooses; the defaults are placeholders in AWS's example account."""

    job_name: str = "cardlake-extract"
    role_arn: str = "arn:aws:iam::123456789012:role/cardlake-glue-etl"
    region: str = "ap-northeast-1"
    script_bucket: str = "s3://cardlake-etl-123456789012/cardlake"
    connection_name: str = "cardlake-etl-reader"
    reader_endpoint: str = (
        "cardlake-etl.cluster-custom-abcdefghijkl.ap-northeast-1.rds.amazonaws.com:3306"
    )
    database: str = SOURCE_DATABASE
    source_secret: str = "cardlake/etl-reader"
    keys_secret: str = "cardlake/token-keys"
    bq_project: str = "my-gcp-project"
    schedule_jst: dt.time = dt.time(2, 30)
    worker_type: str = "G.1X"
    workers: int = 2
    subnet_id: str = "subnet-0123456789abcdef0"
    security_group_id: str = "sg-0123456789abcdef0"
    availability_zone: str = "ap-northeast-1a"
    # Workload Identity Federation from the job's role to BigQuery (no secret inside).
    bq_credential_config: Path | None = None

    @property
    def account(self) -> str:
        match = _ROLE_ARN.fullmatch(self.role_arn)
        if not match:
            raise CardlakeError(
                f"--role-arn {self.role_arn!r} is not an IAM role ARN like "
                "arn:aws:iam::123456789012:role/cardlake-glue-etl"
            )
        return match.group(1)

    @property
    def bucket_and_prefix(self) -> tuple[str, str]:
        match = _S3_URI.fullmatch(self.script_bucket)
        if not match:
            raise CardlakeError(
                f"--script-bucket {self.script_bucket!r} is not an S3 URI like "
                "s3://my-bucket/cardlake"
            )
        return match.group(1), match.group(2).strip("/")

    @property
    def base(self) -> str:
        """The one S3 prefix the job reads and writes: s3://bucket[/prefix]."""
        bucket, prefix = self.bucket_and_prefix
        return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"

    def check(self) -> None:
        """Every value AWS would refuse later, as one line now."""
        _ = self.account, self.bucket_and_prefix
        if self.bq_credential_config is not None:
            read_federation_config(self.bq_credential_config)
        if self.worker_type not in WORKER_TYPES:
            raise CardlakeError(
                f"--worker-type {self.worker_type!r} is not one of {', '.join(WORKER_TYPES)}"
            )
        if self.workers < 2:
            raise CardlakeError(f"--workers {self.workers}: a Glue Spark job needs at least 2")
        match = _ENDPOINT.fullmatch(self.reader_endpoint)
        if not match or not 0 < int(match.group(2)) < 65536:
            raise CardlakeError(
                f"--reader-endpoint {self.reader_endpoint!r} is not HOST:PORT, like "
                "cardlake-etl.cluster-custom-abcdefghijkl.ap-northeast-1.rds.amazonaws.com:3306"
            )


def utc_cron(jst: dt.time) -> str:
    """Glue's daily cron (always UTC) for a wall-clock time in Asia/Tokyo."""
    local = dt.datetime.combine(dt.date(2026, 1, 1), jst, tzinfo=ZoneInfo(BUSINESS_TIMEZONE))
    utc = local.astimezone(dt.UTC)
    return f"cron({utc.minute} {utc.hour} * * ? *)"


def python_modules() -> list[str]:
    """The job's third-party dependencies, pinned to the versions tested here (Glue's list
    is comma-separated, so a range such as `pandas>=2.2,<3` cannot be written)."""
    modules = []
    for line in importlib.metadata.requires("cardlake") or []:
        name = _REQUIREMENT_NAME.match(line).group(0)  # type: ignore[union-attr]
        if ";" in line or name.lower() in NOT_FOR_THE_JOB:
            continue  # an extra (dev, aws, gcp, bench), Spark, or CLI/dashboard only
        modules.append(f"{name}=={importlib.metadata.version(name)}")
    return modules


def _version() -> str:
    return importlib.metadata.version("cardlake")


def wheel_file_name() -> str:
    return f"{WHEEL_NAME}-{_version()}-py3-none-any.whl"


def _package_files() -> list[tuple[str, Path]]:
    """(name in the wheel, file) for etl, masking and warehouse_sql with their data; not
    caches, and not the Java sources and build (the jar ships on its own)."""
    files = []
    for package in PACKAGES:
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise CardlakeError(f"package {package} not found: is cardlake installed?")
        root = Path(next(iter(found.submodule_search_locations)))
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root.parent)
            if (
                path.is_dir()
                or "__pycache__" in relative.parts
                or path.suffix == ".pyc"
                or relative.parts[:2] == ("masking", "jvm")
            ):
                continue
            files.append((relative.as_posix(), path))
    return files


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def write_wheel(directory: Path) -> Path:
    """The project's own packages as a pure-Python wheel (stdlib zipfile, reproducible)."""
    dist_info = f"{WHEEL_NAME}-{_version()}.dist-info"
    metadata = {
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {WHEEL_NAME.replace('_', '-')}\n"
            f"Version: {_version()}\nSummary: cardlake's extract job (etl, masking, "
            "warehouse_sql); its dependencies are listed in the Glue job's "
            "--additional-python-modules\nRequires-Python: >=3.11\n"
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: cardlake glue package\n"
            "Root-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist_info}/top_level.txt": "".join(f"{p}\n" for p in PACKAGES),
    }
    path = directory / wheel_file_name()
    record = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:

        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
            record.append(f"{name},{_record_hash(data)},{len(data)}")

        for name, file in _package_files():
            add(name, file.read_bytes())
        for name, text in metadata.items():
            add(name, text.encode())
        record.append(f"{dist_info}/RECORD,,")
        add_record = zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=_FIXED_ZIP_TIME)
        add_record.external_attr = 0o644 << 16
        wheel.writestr(add_record, "\n".join(record) + "\n", zipfile.ZIP_DEFLATED)
    return path


def _jars() -> dict[str, Path]:
    from masking.jvm import DEFAULT_JAR

    current = settings()
    masking = current.masking_jar or DEFAULT_JAR
    if not masking.is_file():
        raise CardlakeError(
            f"masking UDF jar not found at {masking}: run `make jar` first "
            "(the Glue job loads it with --extra-jars)"
        )
    if not current.jdbc_jar.is_file():
        raise CardlakeError(
            f"MariaDB JDBC driver not found at {current.jdbc_jar}: run `make bootstrap` "
            "(apt-get install libmariadb-java) or set CARDLAKE_JDBC_JAR"
        )
    return {MASKING_JAR: masking, JDBC_JAR: current.jdbc_jar}


def code_location(spec: GlueSpec) -> str:
    """Where the bundle's code files go: s3://bucket/prefix/glue."""
    return f"{spec.base}/glue"


def job_definition(spec: GlueSpec) -> dict[str, Any]:
    """`aws glue create-job --cli-input-json`: one job that runs every table, parents first.

    Its arguments hold no secret (they show in the console and in GetJob): the connection
    names the reader's secret, and CARDLAKE_KEY_PROVIDER names the token keys' secret.
    """
    code = code_location(spec)
    modules = [f"{code}/{wheel_file_name()}", *python_modules()]
    return {
        "Name": spec.job_name,
        "Description": "cardlake: extract every table from the Aurora ETL reader, mask, "
        "publish Parquet, load BigQuery (parents first)",
        "Role": spec.role_arn,
        "ExecutionProperty": {"MaxConcurrentRuns": 1},
        "Command": {
            "Name": "glueetl",
            "ScriptLocation": f"{code}/{JOB_SCRIPT}",
            "PythonVersion": "3",
        },
        "DefaultArguments": {
            "--job-language": "python",
            "--extra-jars": f"{code}/{MASKING_JAR},{code}/{JDBC_JAR}",
            "--additional-python-modules": ",".join(modules),
            # cardlake keeps its own bookmarks (watermarks per table); Glue's are not used.
            "--job-bookmark-option": "job-bookmark-disable",
            "--TempDir": f"{spec.base}/tmp/",
            # Safe: masking keeps every key out of every plan (a plan names a UDF only).
            "--enable-spark-ui": "true",
            "--spark-event-logs-path": f"{spec.base}/spark-events/",
            "--enable-continuous-cloudwatch-log": "true",
            # The job's own arguments.
            "--all": "true",
            "--connection_name": spec.connection_name,
            "--CARDLAKE_KEY_PROVIDER": f"aws-secretsmanager:{spec.keys_secret}",
            "--CARDLAKE_LAKE": f"{spec.base}/lake",
            "--CARDLAKE_BOOKMARKS": f"{spec.base}/bookmarks",
            "--CARDLAKE_BQ_PROJECT": spec.bq_project,
            **federation_arguments(spec),
        },
        "Connections": {"Connections": [spec.connection_name]},
        "MaxRetries": 0,
        "Timeout": 180,
        "GlueVersion": GLUE_VERSION,
        "WorkerType": spec.worker_type,
        "NumberOfWorkers": spec.workers,
    }


def federation_arguments(spec: GlueSpec) -> dict[str, str]:
    """Glue copies --extra-files into the driver's working directory, where the job's
    BigQuery client reads the federation configuration."""
    if spec.bq_credential_config is None:
        return {}
    return {
        "--extra-files": f"{code_location(spec)}/{FEDERATION_FILE}",
        "--CARDLAKE_BQ_CREDENTIALS": FEDERATION_FILE,
    }


def connection_definition(spec: GlueSpec) -> dict[str, Any]:
    """`aws glue create-connection --cli-input-json`: JDBC to the ETL reader endpoint; the
    login is the secret's `username` and `password`, never a literal here."""
    return {
        "ConnectionInput": {
            "Name": spec.connection_name,
            "Description": "cardlake: the Aurora custom ETL endpoint (reader instances only)",
            "ConnectionType": "JDBC",
            "ConnectionProperties": {
                # jdbc:mysql:// with the MariaDB driver: jdbc:mariadb:// gets no MySQL dialect.
                "JDBC_CONNECTION_URL": f"jdbc:mysql://{spec.reader_endpoint}/{spec.database}",
                "SECRET_ID": spec.source_secret,
                "JDBC_ENFORCE_SSL": "true",
            },
            "PhysicalConnectionRequirements": {
                "SubnetId": spec.subnet_id,
                "SecurityGroupIdList": [spec.security_group_id],
                "AvailabilityZone": spec.availability_zone,
            },
        }
    }


def trigger_definition(spec: GlueSpec) -> dict[str, Any]:
    """`aws glue create-trigger --cli-input-json`: daily at the Tokyo time, as a UTC cron."""
    return {
        "Name": f"{spec.job_name}-daily",
        "Description": f"daily at {spec.schedule_jst:%H:%M} {BUSINESS_TIMEZONE}",
        "Type": "SCHEDULED",
        "Schedule": utc_cron(spec.schedule_jst),
        "Actions": [{"JobName": spec.job_name}],
        "StartOnCreation": True,
    }


def _secret_arn(spec: GlueSpec, name: str) -> str:
    # Secrets Manager appends six random characters to a secret's name in its ARN.
    return f"arn:aws:secretsmanager:{spec.region}:{spec.account}:secret:{name}-??????"


def iam_policy(spec: GlueSpec) -> dict[str, Any]:
    """The job role's permissions, and no more (the role also trusts glue.amazonaws.com)."""
    bucket, prefix = spec.bucket_and_prefix
    objects = f"arn:aws:s3:::{bucket}/{prefix}/*" if prefix else f"arn:aws:s3:::{bucket}/*"
    glue = f"arn:aws:glue:{spec.region}:{spec.account}"
    logs = f"arn:aws:logs:{spec.region}:{spec.account}:log-group:/aws-glue/jobs/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTheReaderLoginAndTheTokenKeys",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": [
                    _secret_arn(spec, spec.source_secret),
                    _secret_arn(spec, spec.keys_secret),
                ],
            },
            {
                # Unconditioned: S3 answers a read of a missing key (the first run's
                # pointer, lease and bookmarks) with 404 only for a caller allowed to list
                # the bucket, and such requests carry no s3:prefix to match a condition.
                "Sid": "ListTheJobBucket",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{bucket}",
            },
            {
                "Sid": "ReadWriteTheJobPrefix",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": objects,
            },
            {
                "Sid": "TheJobCannotRewriteItsOwnCode",
                "Effect": "Deny",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": f"{code_location(spec).replace('s3://', 'arn:aws:s3:::')}/*",
            },
            {
                "Sid": "UseTheConnection",
                "Effect": "Allow",
                "Action": ["glue:GetConnection"],
                "Resource": [f"{glue}:catalog", f"{glue}:connection/{spec.connection_name}"],
            },
            {
                "Sid": "WriteTheJobLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [logs, f"{logs}:log-stream:*"],
            },
            {
                "Sid": "GlueVpcConnectionNetworkInterfaces",
                "Effect": "Allow",
                "Action": VPC_ACTIONS,
                "Resource": "*",
            },
            {
                "Sid": "GlueTagsItsNetworkInterfaces",
                "Effect": "Allow",
                "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
                "Resource": f"arn:aws:ec2:{spec.region}:{spec.account}:network-interface/*",
                "Condition": {
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}
                },
            },
        ],
    }


def deploy_commands(spec: GlueSpec, bundle: str) -> list[str]:
    """The aws CLI commands that deploy a bundle, in order."""
    role = spec.role_arn.rsplit("/", 1)[1]
    return [
        f"aws s3 cp --recursive {bundle} {code_location(spec)}/ --exclude '*' "
        f"--include '*.py' --include '*.jar' --include '*.whl'"
        + (f" --include '{FEDERATION_FILE}'" if spec.bq_credential_config else ""),
        f"aws iam put-role-policy --role-name {role} --policy-name cardlake-etl "
        f"--policy-document file://{bundle}/iam-policy.json",
        f"aws glue create-connection --region {spec.region} --cli-input-json file://{bundle}/connection.json",
        f"aws glue create-job --region {spec.region} --cli-input-json file://{bundle}/job.json",
        f"aws glue create-trigger --region {spec.region} --cli-input-json file://{bundle}/trigger.json",
    ]


def _readme(spec: GlueSpec, bundle: str) -> str:
    commands = "\n".join(deploy_commands(spec, bundle))
    return (
        f"cardlake Glue bundle: job {spec.job_name}, Glue {GLUE_VERSION}, "
        f"{spec.workers} x {spec.worker_type}, daily at {spec.schedule_jst:%H:%M} "
        f"{BUSINESS_TIMEZONE} ({utc_cron(spec.schedule_jst)} UTC).\n\n"
        "Before: the secrets exist in Secrets Manager (the reader's login as username and "
        f"password in {spec.source_secret}; the token keys document in {spec.keys_secret}), "
        f"and role {spec.role_arn} trusts glue.amazonaws.com.\n\n"
        f"Deploy:\n\n{commands}\n"
    )


def write_bundle(spec: GlueSpec, out: Path) -> list[Path]:
    """Write the bundle into `out` (created; files of an earlier bundle are replaced)."""
    spec.check()
    jars = _jars()
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f"{WHEEL_NAME}-*.whl"):
        stale.unlink()
    found = importlib.util.find_spec("etl.jobs.extract_table")
    script = Path(str(found.origin if found else ""))
    written = [Path(shutil.copyfile(script, out / JOB_SCRIPT))]
    written += [Path(shutil.copyfile(path, out / name)) for name, path in jars.items()]
    written.append(write_wheel(out))
    (out / FEDERATION_FILE).unlink(missing_ok=True)
    if spec.bq_credential_config is not None:
        config = read_federation_config(spec.bq_credential_config)
        federation = out / FEDERATION_FILE
        federation.write_text(json.dumps(config, indent=2) + "\n")
        written.append(federation)
    documents = {
        "job.json": job_definition(spec),
        "connection.json": connection_definition(spec),
        "trigger.json": trigger_definition(spec),
        "iam-policy.json": iam_policy(spec),
    }
    for name, document in documents.items():
        path = out / name
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    readme = out / "README.txt"
    readme.write_text(_readme(spec, str(out)))
    written.append(readme)
    return written
