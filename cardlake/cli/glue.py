"""`cardlake glue package`: a deployable AWS Glue bundle (etl/deploy/glue.py builds it)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from cardlake.cli.output import step
from cardlake.cli.params import clock_time, positive_int
from etl.deploy.glue import WORKER_TYPES, GlueSpec
from etl.errors import CardlakeError

glue_app = typer.Typer(help="Package the extract job for AWS Glue.")
DEFAULT = GlueSpec()


def _text(name: str, help: str) -> typer.models.OptionInfo:
    option: typer.models.OptionInfo = typer.Option(
        envvar=f"CARDLAKE_GLUE_{name}", help=help, show_default=True
    )
    return option


@glue_app.command("package")
def glue_package(  # noqa: PLR0913 - a Typer command's options are its parameters
    out: Annotated[
        Path | None,
        typer.Option(
            envvar="CARDLAKE_GLUE_OUT",
            help="the bundle directory",
            show_default="$CARDLAKE_HOME/glue-bundle",
        ),
    ] = None,
    schedule_jst: Annotated[
        dt.time,
        typer.Option(
            parser=clock_time,
            metavar="HH:MM",
            envvar="CARDLAKE_GLUE_SCHEDULE_JST",
            help="daily start, Asia/Tokyo time (the trigger holds it as a UTC cron)",
            show_default=f"{DEFAULT.schedule_jst:%H:%M}",
        ),
    ] = DEFAULT.schedule_jst,
    workers: Annotated[
        int,
        typer.Option(
            parser=positive_int,
            metavar="N",
            envvar="CARDLAKE_GLUE_WORKERS",
            help="NumberOfWorkers (2 or more)",
        ),
    ] = DEFAULT.workers,
    worker_type: Annotated[
        str, _text("WORKER_TYPE", f"WorkerType: {', '.join(WORKER_TYPES)}")
    ] = DEFAULT.worker_type,
    job_name: Annotated[str, _text("JOB_NAME", "the Glue job's name")] = DEFAULT.job_name,
    role_arn: Annotated[
        str, _text("ROLE_ARN", "the job's IAM role (iam-policy.json is its policy)")
    ] = DEFAULT.role_arn,
    region: Annotated[str, _text("REGION", "the AWS region")] = DEFAULT.region,
    script_bucket: Annotated[
        str,
        _text(
            "SCRIPT_BUCKET",
            "s3://bucket/prefix: the bundle goes to <prefix>/glue, the job's state under "
            "<prefix>; the only prefix the role may use",
        ),
    ] = DEFAULT.script_bucket,
    connection_name: Annotated[
        str, _text("CONNECTION_NAME", "the Glue JDBC connection's name")
    ] = DEFAULT.connection_name,
    reader_endpoint: Annotated[
        str, _text("READER_ENDPOINT", "HOST:PORT of the Aurora custom ETL endpoint")
    ] = DEFAULT.reader_endpoint,
    database: Annotated[str, _text("DATABASE", "the source schema")] = DEFAULT.database,
    source_secret: Annotated[
        str,
        _text("SOURCE_SECRET", "Secrets Manager secret with the reader's username and password"),
    ] = DEFAULT.source_secret,
    keys_secret: Annotated[
        str, _text("KEYS_SECRET", "Secrets Manager secret with the token keys document")
    ] = DEFAULT.keys_secret,
    bq_project: Annotated[
        str, _text("BQ_PROJECT", "the BigQuery project the job loads")
    ] = DEFAULT.bq_project,
    subnet_id: Annotated[
        str, _text("SUBNET_ID", "the connection's subnet (reaches the reader)")
    ] = DEFAULT.subnet_id,
    security_group_id: Annotated[
        str, _text("SECURITY_GROUP_ID", "the connection's security group")
    ] = DEFAULT.security_group_id,
    availability_zone: Annotated[
        str, _text("AVAILABILITY_ZONE", "the subnet's availability zone")
    ] = DEFAULT.availability_zone,
    bq_credential_config: Annotated[
        Path | None,
        typer.Option(
            envvar="CARDLAKE_GLUE_BQ_CREDENTIAL_CONFIG",
            help="Workload Identity Federation configuration (JSON, type external_account: "
            "no secret) that lets the job's AWS role load BigQuery",
            show_default="none: the job has no BigQuery credentials",
        ),
    ] = None,
) -> None:
    """Write the job script, code wheel, jars and create-job/connection/trigger JSON."""
    from etl.deploy.glue import write_bundle
    from etl.settings import state_dir

    spec = GlueSpec(
        job_name=job_name,
        role_arn=role_arn,
        region=region,
        script_bucket=script_bucket,
        connection_name=connection_name,
        reader_endpoint=reader_endpoint,
        database=database,
        source_secret=source_secret,
        keys_secret=keys_secret,
        bq_project=bq_project,
        schedule_jst=schedule_jst,
        worker_type=worker_type,
        workers=workers,
        subnet_id=subnet_id,
        security_group_id=security_group_id,
        availability_zone=availability_zone,
        bq_credential_config=bq_credential_config,
    )
    bundle = out or state_dir() / "glue-bundle"
    try:
        written = write_bundle(spec, bundle)
    except OSError as exc:
        raise CardlakeError(
            f"cannot write the bundle to {bundle}: {exc.strerror or exc}; choose another --out"
        ) from None
    for path in written:
        step(f"wrote {path}")
    print(f"bundle in {bundle}: deploy with the commands in {bundle / 'README.txt'}")
    if bq_credential_config is None:
        print(
            "cardlake: warning: no --bq-credential-config: the job has no BigQuery "
            "credentials (Glue has no Google Application Default Credentials); see the README",
            file=sys.stderr,
        )
