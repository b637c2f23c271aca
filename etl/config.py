"""Runtime settings: local defaults, overridden by CARDLAKE_* environment variables.

With nothing configured, every endpoint points at the project's own local stack
(MariaDB primary + replica, BigQuery emulator) under the state directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Package data, so an installed wheel deploys the same views as a checkout.
SQL_DIR = Path(str(resources.files("warehouse_sql")))
MARIADB_JDBC_JAR = Path("/usr/share/java/mariadb-java-client.jar")
SOURCE_DATABASE = "cardissuer"
BUSINESS_TIMEZONE = "Asia/Tokyo"
LOCAL_BQ_PROJECT = "cardlake-local"


def state_dir() -> Path:
    """Where local servers, keys, the lake and builds live (throwaway, git-ignored)."""
    return Path(os.environ.get("CARDLAKE_HOME", PROJECT_ROOT / ".cardlake")).resolve()


@dataclass(frozen=True)
class WarehouseSettings:
    project: str
    location: str | None
    raw_dataset: str
    stg_dataset: str
    mart_dataset: str
    ops_dataset: str
    use_emulator: bool

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
    """Real BigQuery when CARDLAKE_BQ_PROJECT is set, else the local emulator."""
    project = os.environ.get("CARDLAKE_BQ_PROJECT")
    return WarehouseSettings(
        project=project or LOCAL_BQ_PROJECT,
        location=os.environ.get("CARDLAKE_BQ_LOCATION"),
        raw_dataset="raw",
        stg_dataset="stg",
        mart_dataset="mart",
        ops_dataset="ops",
        use_emulator=project is None,
    ).with_dataset_prefix(os.environ.get("CARDLAKE_BQ_DATASET_PREFIX", ""))


def lake_dir() -> Path:
    return Path(os.environ.get("CARDLAKE_LAKE_DIR", state_dir() / "lake")).resolve()
