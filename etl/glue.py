"""AWS Glue compatibility: getResolvedOptions semantics and Job init/commit, with a local fallback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from etl.errors import CardlakeError


def resolved_options(
    argv: Sequence[str], required: Sequence[str], optional: dict[str, str] | None = None
) -> dict[str, str]:
    """Parse `--NAME value` pairs like awsglue.utils.getResolvedOptions, plus optional names.

    Glue passes its own arguments (--job-bookmark-option, --TempDir, ...) as well; unknown
    names are ignored, as Glue does.
    """
    values: dict[str, str] = dict(optional or {})
    args = list(argv[1:])
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            name, eq, inline = arg[2:].partition("=")
            if eq:
                values[name] = inline
            elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                values[name] = args[i + 1]
                i += 1
            else:
                values[name] = "true"
        i += 1
    missing = [name for name in required if name not in values]
    if missing:
        raise CardlakeError(f"missing job argument(s): {', '.join('--' + m for m in missing)}")
    return values


class LocalJob:
    """The part of awsglue.job.Job the jobs use, for runs outside Glue."""

    def __init__(self, name: str) -> None:
        self.name = name

    def commit(self) -> None:
        """Glue commits its own bookmarks here; cardlake keeps its own state, so nothing to do."""


def init_job(name: str, spark: Any, args: dict[str, str]) -> Any:
    try:
        from awsglue.context import GlueContext
        from awsglue.job import Job
    except ImportError:
        return LocalJob(name)
    job = Job(GlueContext(spark.sparkContext))
    job.init(name, args)
    return job
