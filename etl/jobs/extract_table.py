"""Glue job script: run one table end to end (extract, mask, gate, publish, load, bookmark).

    spark-submit etl/jobs/extract_table.py --JOB_NAME extract --table transactions

The same file runs as an AWS Glue job script. It only parses the job arguments and calls
the pipeline; nothing runs at import time.
"""

from __future__ import annotations

import sys
from pathlib import Path

from etl.errors import CardlakeError, run_reporting_errors
from etl.glue import init_job, resolved_options
from etl.pipeline import RunOptions, run_tables
from etl.resources import run_context
from etl.spark import build_session

DEFAULTS = {"num_partitions": "4", "allow_primary": "false", "full_refresh": "false", "lake": ""}


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
    args = resolved_options(argv or sys.argv, ["JOB_NAME", "table"], DEFAULTS)
    options = run_options(args)
    spark = build_session(args["JOB_NAME"])
    job = init_job(args["JOB_NAME"], spark, args)
    context = run_context(spark, Path(args["lake"]) if args["lake"] else None)
    [result] = run_tables(context, [args["table"]], options)
    job.commit()
    why = f" ({result.full_reason})" if result.full_reason else ""
    print(
        f"{result.table}: {result.kind} run{why}, {result.rows_written} rows written, "
        f"{result.rows_loaded} rows in the warehouse table"
    )


if __name__ == "__main__":
    sys.exit(run_reporting_errors(main))
