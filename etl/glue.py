"""AWS Glue compatibility: getResolvedOptions semantics and Job init/commit, with a local fallback."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from etl.errors import CardlakeError
from etl.settings import ENV_PREFIX


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


# Settings that are secrets: job arguments show in the Glue console and in GetJob, so these
# come from Secrets Manager (the connection's SECRET_ID, CARDLAKE_KEY_PROVIDER), never here.
SECRET_SETTINGS = frozenset({f"{ENV_PREFIX}SOURCE_PASSWORD", f"{ENV_PREFIX}KEYS"})


def settings_from_arguments(args: dict[str, str]) -> dict[str, str]:
    """Job arguments named like settings (`--CARDLAKE_BQ_PROJECT p`), as environment
    variables for settings to read: Glue sets no environment variables of its own."""
    found = {name: value for name, value in args.items() if name.startswith(ENV_PREFIX)}
    secret = sorted(found.keys() & SECRET_SETTINGS)
    if secret:
        raise CardlakeError(
            f"{', '.join('--' + s for s in secret)} must not be a job argument (job arguments "
            "are shown in the Glue console): use the connection's secret or a key provider"
        )
    return found


def source_from_jdbc_conf(conf: dict[str, str]) -> dict[str, str]:
    """The source settings from a Glue connection's resolved JDBC configuration
    (GlueContext.extract_jdbc_conf, which reads the login from the connection's secret)."""
    url = conf.get("fullUrl") or conf.get("url") or ""
    match = re.fullmatch(r"jdbc:(?:mysql|mariadb)://([^:/]+)(?::(\d+))?/([^?]+)(?:\?.*)?", url)
    if not match or not conf.get("user") or not conf.get("password"):
        raise CardlakeError(
            "the Glue connection has no jdbc:mysql://host:port/database URL with a login "
            "(set JDBC_CONNECTION_URL and SECRET_ID on it)"
        )
    host, port, database = match.groups()
    return {
        f"{ENV_PREFIX}SOURCE_HOST": host,
        f"{ENV_PREFIX}SOURCE_PORT": port or "3306",
        f"{ENV_PREFIX}SOURCE_DATABASE": database,
        f"{ENV_PREFIX}SOURCE_USER": conf["user"],
        f"{ENV_PREFIX}SOURCE_PASSWORD": conf["password"],
    }


def connection_source(spark: Any, connection_name: str) -> dict[str, str]:
    """The source settings from a Glue connection; on Glue only (exercised there, not in
    the tests here, which have no awsglue)."""
    try:
        from awsglue.context import GlueContext
    except ImportError:
        raise CardlakeError(
            f"--connection_name {connection_name} needs AWS Glue (awsglue); outside Glue, "
            "set CARDLAKE_SOURCE_* instead"
        ) from None
    conf = GlueContext(spark.sparkContext).extract_jdbc_conf(connection_name)
    return source_from_jdbc_conf(dict(conf))


def glue_session() -> Any | None:
    """On Glue, Glue's own session (its --extra-jars on the classpath), made the active one
    so that build_session adopts it instead of configuring local jar paths; else None."""
    try:
        import awsglue  # noqa: F401
    except ImportError:
        return None
    from pyspark.sql import SparkSession

    return SparkSession.builder.getOrCreate()
