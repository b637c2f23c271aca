"""Settings: one typed object read from CARDLAKE_* environment variables.

Precedence, highest first: the process environment, then the local stack's env files
(`$CARDLAKE_HOME/stack.env`, `$CARDLAKE_HOME/warehouse.env`, written by `cardlake stack up`
and `cardlake warehouse up`), then the defaults below. Production code reads endpoints from
here only, so it never needs to know whether a local stack or Aurora/BigQuery answers them.
Glue job arguments and CLI options override single fields per run (`RunOptions`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from etl.errors import CardlakeError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Package data, so an installed wheel deploys the same views as a checkout.
SQL_DIR = Path(str(resources.files("warehouse_sql")))
MARIADB_JDBC_JAR = Path("/usr/share/java/mariadb-java-client.jar")
SOURCE_DATABASE = "cardissuer"
BUSINESS_TIMEZONE = "Asia/Tokyo"
LOCAL_BQ_PROJECT = "cardlake-local"
# Real BigQuery bills what a query scans: an ad-hoc query fails above this unless the
# user raises it (the emulator bills nothing and ignores the setting).
DEFAULT_MAX_BYTES_BILLED = 10 * 2**30
ENV_PREFIX = "CARDLAKE_"
# Written by the local stack's `up` commands (0600); read as if they were the environment.
LOCAL_ENV_FILES = ("stack.env", "warehouse.env")


class Settings(BaseSettings):
    """Every CARDLAKE_* variable. `cardlake config show` prints them (secrets redacted)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, env_file_encoding="utf-8"
    )

    home: Path = Field(
        PROJECT_ROOT / ".cardlake",
        description="state directory: local servers, dev keys, the lake, builds",
    )
    lake: str | None = Field(
        None,
        description="the Parquet lake: a directory, s3://bucket/prefix or gs://bucket/prefix "
        "(default: $HOME/lake)",
    )
    bookmarks: str | None = Field(
        None, description="bookmark store: a directory, s3:// or gs:// (default: $HOME/bookmarks)"
    )
    manifest_dir: Path | None = Field(
        None, description="table manifests (default: the packaged etl/contracts/manifests)"
    )
    source_host: str | None = Field(
        None, description="the read replica's host, e.g. an Aurora custom reader endpoint"
    )
    source_port: int = Field(3306, description="the read replica's port")
    source_user: str = Field("etl", description="the ETL's read-only login")
    source_password: SecretStr | None = Field(None, description="its password")
    source_database: str = Field(SOURCE_DATABASE, description="the source schema")
    bq_project: str | None = Field(
        None, description="BigQuery project; unset: the local emulator at CARDLAKE_BQ_ENDPOINT"
    )
    bq_location: str | None = Field(None, description="BigQuery location, e.g. asia-northeast1")
    bq_dataset_prefix: str = Field("", description="prefix of the raw/stg/mart/ops datasets")
    bq_endpoint: str | None = Field(
        None, description="BigQuery API endpoint (the local emulator's URL)"
    )
    bq_credentials: Path | None = Field(
        None,
        description="a Google credential configuration for BigQuery: Workload Identity "
        "Federation (type external_account, no secret inside); unset: Application Default "
        "Credentials",
    )
    key_provider: str = Field(
        "file",
        description="file, env, aws-secretsmanager:<secret-id> or gcp-secretmanager:<resource>",
    )
    keys: SecretStr | None = Field(None, description="the key document when key_provider=env")
    key_file: Path | None = Field(
        None, description="the dev key file (default: $HOME/keys/dev-keys.json)"
    )
    jdbc_jar: Path = Field(MARIADB_JDBC_JAR, description="MariaDB Connector/J jar")
    masking_jar: Path | None = Field(
        None, description="cardlake's masking UDF jar (default: masking/jvm/build)"
    )
    spark_master: str | None = Field(None, description="Spark master (default: local[*])")
    spark_log_level: str = Field("ERROR", description="Spark's log level")
    shuffle_partitions: int = Field(8, gt=0, description="spark.sql.shuffle.partitions")
    bqemu_venv: Path = Field(
        PROJECT_ROOT / ".venv-bqemu", description="the BigQuery emulator's venv (local stack)"
    )

    @property
    def state_dir(self) -> Path:
        return self.home.resolve()


def settings() -> Settings:
    """The effective settings now (read afresh: tests and the CLI change the environment)."""
    try:
        return Settings(_env_file=_local_env_files())  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{str(error['loc'][0]).upper()}: {error['msg']}" for error in exc.errors()
        )
        raise CardlakeError(f"invalid setting: {problems}") from None


def _local_env_files() -> tuple[Path, ...]:
    home = Path(os.environ.get(f"{ENV_PREFIX}HOME", PROJECT_ROOT / ".cardlake"))
    return tuple(home / name for name in LOCAL_ENV_FILES)


def effective_settings() -> list[tuple[str, str, str]]:
    """(variable, value, where it came from) for every setting; secrets show as ******."""
    from dotenv import dotenv_values

    current = settings()
    files = [(path.name, dotenv_values(path)) for path in _local_env_files() if path.exists()]
    rows = []
    for name in Settings.model_fields:
        variable = f"{ENV_PREFIX}{name.upper()}"
        value = getattr(current, name)
        shown = "(unset)" if value is None else str(value)  # SecretStr prints as **********
        origin = "default"
        if variable in os.environ:
            origin = "environment"
        else:
            origin = next((f for f, values in files if variable in values), origin)
        rows.append((variable, shown, origin))
    return rows


def state_dir() -> Path:
    """Where local servers, keys, the lake and builds live (throwaway, git-ignored)."""
    return settings().state_dir


def lake_location() -> str:
    """The lake's location: a directory, s3://bucket/prefix or gs://bucket/prefix."""
    current = settings()
    return current.lake or str(current.state_dir / "lake")


@dataclass(frozen=True)
class WarehouseSettings:
    project: str
    location: str | None
    raw_dataset: str
    stg_dataset: str
    mart_dataset: str
    ops_dataset: str
    api_endpoint: str | None  # the local emulator; None: Google's BigQuery API
    # A Workload Identity Federation configuration; None: Application Default Credentials.
    credentials_file: Path | None = None

    @property
    def use_emulator(self) -> bool:
        return self.api_endpoint is not None

    def with_dataset_prefix(self, prefix: str) -> WarehouseSettings:
        """The same project with datasets <prefix>raw, <prefix>stg, <prefix>mart, <prefix>ops."""
        return replace(
            self,
            raw_dataset=f"{prefix}raw",
            stg_dataset=f"{prefix}stg",
            mart_dataset=f"{prefix}mart",
            ops_dataset=f"{prefix}ops",
        )

    @property
    def datasets(self) -> dict[str, str]:
        return {
            "raw_dataset": self.raw_dataset,
            "stg_dataset": self.stg_dataset,
            "mart_dataset": self.mart_dataset,
            "ops_dataset": self.ops_dataset,
        }


def warehouse_settings() -> WarehouseSettings:
    """Real BigQuery when CARDLAKE_BQ_PROJECT is set, else the emulator at CARDLAKE_BQ_ENDPOINT."""
    current = settings()
    project = current.bq_project
    return WarehouseSettings(
        project=project or LOCAL_BQ_PROJECT,
        location=current.bq_location,
        raw_dataset="raw",
        stg_dataset="stg",
        mart_dataset="mart",
        ops_dataset="ops",
        api_endpoint=None if project else (current.bq_endpoint or ""),
        credentials_file=current.bq_credentials,
    ).with_dataset_prefix(current.bq_dataset_prefix)
