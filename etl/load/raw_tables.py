"""The declared BigQuery schema of each masked raw table, derived from its manifest.

Column names and order follow the masking policy; types follow the source column types
(NUMERIC for money and for unsigned 64-bit ids, which overflow INT64; TIMESTAMP for the
source's UTC DATETIMEs); every column gets a description saying what it holds. The
loader checks each Parquet snapshot against this schema before it loads anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from google.cloud import bigquery

from etl.contracts.manifest import ColumnPolicy, TableManifest
from etl.errors import CardlakeError
from etl.lake.snapshot import BUSINESS_DATE
from etl.settings import BUSINESS_TIMEZONE
from masking.policy import key_version_column, output_name, token_column

# A table's source column types as MySQL DDL (`bigint unsigned`): the live replica's, or a
# model's where no replica is at hand (the view fixtures).
SourceTypes = Callable[[str], dict[str, str]]

RUN_ID = "_run_id"
EXTRACTED_AT = "_extracted_at"
MAX_PARTITIONS_PER_JOB = 4_000  # BigQuery's limit of partitions one job may modify

GENERALIZED_TYPE = {"year": "INT64", "age_band": "STRING", "postal3": "STRING"}
GENERALIZED_MEANING = {
    "year": "its year",
    "age_band": "a 10-year age band",
    "postal3": "its first three digits",
    "prefecture": "the prefecture",
}


@dataclass(frozen=True)
class RawTable:
    name: str
    description: str
    schema: tuple[bigquery.SchemaField, ...]
    primary_key: tuple[str, ...]
    partition_field: str | None = None
    partition: str = "day"
    cluster_by: tuple[str, ...] = ()
    require_partition_filter: bool = False

    @property
    def column_names(self) -> list[str]:
        return [f.name for f in self.schema]

    def table(self, table_id: str) -> bigquery.Table:
        table = bigquery.Table(table_id, schema=list(self.schema))
        table.description = self.description
        if self.partition_field:
            table.time_partitioning = bigquery.TimePartitioning(
                type_=bigquery.TimePartitioningType.MONTH
                if self.partition == "month"
                else bigquery.TimePartitioningType.DAY,
                field=self.partition_field,
            )
            table.require_partition_filter = self.require_partition_filter
        if self.cluster_by:
            table.clustering_fields = list(self.cluster_by)
        return table


def bigquery_type_of_source(column_type: str) -> str:
    """BigQuery type for a MySQL column type, as information_schema or SQLAlchemy spells it."""
    text = column_type.strip().lower()
    base = re.match(r"[a-z]+", text)
    name = base.group(0) if base else ""
    if name == "bigint" and "unsigned" in text:
        return "NUMERIC"
    if (name == "tinyint" and text.startswith("tinyint(1)")) or text == "bit(1)":
        return "BOOL"  # MySQL's boolean; Connector/J reads it as one
    if name in {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year"}:
        return "INT64"
    if name in {"decimal", "numeric"}:
        digits = re.search(r"\((\d+)\s*,\s*(\d+)\)", text)
        precision, scale = (int(digits.group(1)), int(digits.group(2))) if digits else (10, 0)
        return "NUMERIC" if scale <= 9 and precision - scale <= 29 else "BIGNUMERIC"
    if name in {"float", "double", "real"}:
        return "FLOAT64"
    if name in {"datetime", "timestamp"}:
        return "TIMESTAMP"
    if name == "date":
        return "DATE"
    if name in {"char", "varchar", "text", "tinytext", "mediumtext", "longtext", "enum", "set"}:
        return "STRING"
    if name == "json":
        return "JSON"
    raise CardlakeError(f"no BigQuery type for source column type {column_type!r}")


def _field(name: str, field_type: str, description: str) -> bigquery.SchemaField:
    return bigquery.SchemaField(name, field_type, description=description)


def _policy_fields(policy: ColumnPolicy, source_type: str) -> list[bigquery.SchemaField]:
    name = policy.name
    if policy.action == "keep":
        return [_field(name, bigquery_type_of_source(source_type), f"{policy.klass}: as in source")]
    if policy.action == "token":
        fields = [
            _field(
                token_column(name),
                "BYTES",
                f"HMAC-SHA256 token of the normalized {name} (key '{policy.key_name}', "
                f"version in {key_version_column(name)}); joinable, not reversible",
            ),
            _field(
                key_version_column(name),
                "INT64",
                f"version of the '{policy.key_name}' key that made {token_column(name)}",
            ),
        ]
        if "bin6" in policy.display:
            fields.append(_field(f"{name}_bin6", "STRING", "first six digits of the PAN (BIN)"))
        if "last4" in policy.display:
            fields.append(_field(f"{name}_last4", "STRING", "last four digits of the PAN"))
        return fields
    if policy.action == "generalize":
        assert policy.generalize is not None
        field_type = GENERALIZED_TYPE.get(policy.generalize) or bigquery_type_of_source(source_type)
        return [
            _field(
                output_name(policy),
                field_type,
                f"{name} generalized to {GENERALIZED_MEANING[policy.generalize]} "
                "(blank where the k-anonymity gate suppressed it)",
            )
        ]
    if policy.action == "redact":
        return [_field(name, "STRING", "free text with PANs, e-mails and phones redacted")]
    return []


def raw_table(manifest: TableManifest, source_types: dict[str, str]) -> RawTable:
    """The declared warehouse table of a manifest, given its source column types."""
    missing = [c for c in manifest.columns if c not in source_types]
    if missing:
        raise CardlakeError(f"{manifest.table}: no source type for column(s) {', '.join(missing)}")
    schema = [
        field
        for policy in manifest.columns.values()
        for field in _policy_fields(policy, source_types[policy.name])
    ]
    schema += [
        _field(RUN_ID, "STRING", "cardlake run that extracted the row"),
        _field(EXTRACTED_AT, "TIMESTAMP", "when that run read the replica"),
    ]
    if manifest.business_date:
        schema.append(
            _field(
                BUSINESS_DATE,
                "DATE",
                f"{manifest.business_date} as a {BUSINESS_TIMEZONE} date; the partition column",
            )
        )
    layout = manifest.warehouse
    return RawTable(
        name=manifest.table,
        description=manifest.description,
        schema=tuple(schema),
        primary_key=manifest.primary_key,
        partition_field=BUSINESS_DATE if manifest.business_date else None,
        partition=layout.partition,
        cluster_by=layout.cluster_by,
        require_partition_filter=layout.require_partition_filter,
    )
