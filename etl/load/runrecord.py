"""The audit trail: one record per table and run, on success and on failure (PCI DSS 10.2).

Records are appended to a local JSON-lines file and to the warehouse table
`ops.run_records`. They hold who, when, where, what and how many, never row values: an
unexpected exception is recorded by its type only, since its message may quote data.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

from google.cloud import bigquery

from etl.errors import CardlakeError
from etl.load import opstables
from etl.settings import WarehouseSettings, state_dir


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """One row of ops.run_records; its field order is the table's column order."""

    run_id: str
    table_name: str
    user: str
    host: str
    source_endpoint: str
    started_at: dt.datetime
    finished_at: dt.datetime
    kind: str | None = None
    rows_written: int | None = None
    rows_in_warehouse: int | None = None
    data_quality: str | None = None
    key_versions: str
    replica_lag_s: int | None = None
    zero_dates_to_null: str | None = None
    outcome: str
    error: str | None = None


def who() -> tuple[str, str]:
    return getpass.getuser(), socket.gethostname()


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, CardlakeError):
        return str(exc)
    return f"{type(exc).__name__} (message withheld: it may quote data)"


def record_file() -> Path:
    return state_dir() / "runs" / "run_records.jsonl"


def append(record: RunRecord, bq: bigquery.Client | None, settings: WarehouseSettings) -> None:
    path = record_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(record), default=str) + "\n")
    if bq is None:
        return
    opstables.append(
        bq,
        settings,
        "run_records",
        [asdict(record)],
        f"cardlake_record_{record.table_name}_{record.run_id}_{record.outcome}",
    )
