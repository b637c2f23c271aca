"""Glue job script: run tables end to end (extract, mask, gate, publish, load, bookmark).

    spark-submit etl/jobs/extract_table.py --JOB_NAME extract --table transactions
    spark-submit etl/jobs/extract_table.py --JOB_NAME extract --all true

The same file runs as an AWS Glue job script (`cardlake glue package` deploys it with
`--all true`: every table, parents first). Job arguments named `--CARDLAKE_<SETTING>` set
that setting, and `--connection_name` reads the source's endpoint and login from a Glue
connection (on Glue only). It only parses the job arguments and calls the pipeline;
nothing runs at import time.
"""

from __future__ import annotations

import os
import sys

from etl.contracts.manifest import table_names
from etl.errors import CardlakeError, run_reporting_errors
from etl.gate.quality import preload_great_expectations
from etl.glue import (
    connection_source,
    glue_session,
    init_job,
    resolved_options,
    settings_from_arguments,
)
from etl.pipeline import RunOptions, run_tables
from etl.resources import configured_lake, run_context
from etl.spark import build_session

DEFAULTS = {
    "num_partitions": "4",
    "allow_primary": "false",
    "full_refresh": "false",
    "lake": "",
    "all": "false",
    "connection_name": "",
}


def job_tables(args: dict[str, str]) -> list[str]:
    """`--table T` or `--all true` (every table with a manifest, parents first)."""
    every = args["all"].lower() == "true"
    if every == ("table" in args):
        raise CardlakeError("pass either --table T or --all true")
    return table_names() if every else [args["table"]]


def run_options(args: dict[str, str]) -> RunOptions:
    try:
        num_partitions = int(args["num_partitions"])
    except ValueError:
        num_partitions = 0
    if num_partitions < 1:
        raise CardlakeError(
            f"--num_partitions must be a positive integer, not {args['num_partitions']!r}"
        )
    return RunOptions(
        num_partitions=num_partitions,
        allow_primary=args["allow_primary"].lower() == "true",
        full_refresh=args["full_refresh"].lower() == "true",
    )


def main(argv: list[str] | None = None) -> None:
    args = resolved_options(argv or sys.argv, ["JOB_NAME"], DEFAULTS)
    os.environ.update(settings_from_arguments(args))
    options = run_options(args)
    tables = job_tables(args)
    lake = configured_lake(args["lake"] or None)
    glue_session()
    # Under spark-submit and on Glue the JVM already runs, so only the session, job and
    # window set-up overlap the import here (in `cardlake run` the JVM's start does).
    preload_great_expectations()
    spark = build_session(args["JOB_NAME"])
    job = init_job(args["JOB_NAME"], spark, args)
    if args["connection_name"]:
        os.environ.update(connection_source(spark, args["connection_name"]))
    context = run_context(spark, lake)
    results = run_tables(context, tables, options)
    job.commit()
    for result in results:
        why = f" ({result.full_reason})" if result.full_reason else ""
        print(
            f"{result.table}: {result.kind} run{why}, {result.rows_written} rows written, "
            f"{result.rows_loaded} rows in the warehouse table"
        )


if __name__ == "__main__":
    sys.exit(run_reporting_errors(main))
