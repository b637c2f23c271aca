"""Per-table manifests: every source column's classification and masking action.

A manifest is YAML, one per source table (etl/contracts/manifests/<table>.yaml, or the directory
named by CARDLAKE_MANIFEST_DIR)::

    table: members
    primary_key: [member_id]
    cursor: updated_at
    business_date: created_at        # partitions the output by its date in Asia/Tokyo
    columns:
      member_id: key
      email: {class: direct_identifier, normalize: email}
      birth_date: {class: quasi_identifier, generalize: age_band}
    k_anonymity: {k: 5, on_violation: suppress}   # default: k 5, fail

Validation is strict and fails with the manifest path and the offending entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from etl.errors import CardlakeError
from etl.settings import settings

MANIFEST_DIR = Path(__file__).resolve().parent / "manifests"
# The shipped tables, parents before the tables that refer to them: runs and loads go in
# this order, so a reader between two loads never sees a child row without its parent.
TABLES = (
    "support_targets",
    "card_designs",
    "members",
    "applications",
    "cards",
    "transactions",
    "statements",
    "repayments",
)
# What each token column's values are normalized as before hashing (masking implements them).
NORMALIZERS = ("none", "pan", "email", "phone", "name")
DEFAULT_K = 5

CLASSES = {
    "key": "keep",
    "attribute": "keep",
    "measure": "keep",
    "pan": "token",
    "sensitive_auth": "exclude",
    "direct_identifier": "token",
    "quasi_identifier": "drop",
    "free_text": "redact",
}
ACTIONS = {"keep", "drop", "token", "generalize", "redact", "exclude"}
ALLOWED_ACTIONS = {
    "key": {"keep", "token", "drop"},
    "attribute": {"keep", "drop"},
    "measure": {"keep", "drop"},
    "pan": {"token", "drop"},
    "sensitive_auth": {"exclude"},
    "direct_identifier": {"token", "drop"},
    "quasi_identifier": {"generalize", "drop", "keep"},
    "free_text": {"redact", "drop"},
}
GENERALIZATIONS = {"year", "age_band", "postal3", "prefecture"}
PAN_DISPLAY = {"bin6", "last4"}
TOKEN_KEY_FOR_CLASS = {"pan": "pan", "direct_identifier": "pii", "key": "pii"}


@dataclass(frozen=True)
class ColumnPolicy:
    name: str
    klass: str
    action: str
    normalize: str = "none"
    generalize: str | None = None
    display: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None

    @property
    def key_name(self) -> str:
        return TOKEN_KEY_FOR_CLASS[self.klass]


@dataclass(frozen=True)
class KAnonymity:
    """Re-identification gate over the generalized quasi-identifiers of a table."""

    k: int = DEFAULT_K
    on_violation: str = "fail"  # or "suppress": blank the quasi-identifiers of small classes


@dataclass(frozen=True)
class WarehouseLayout:
    """How the masked table is laid out in BigQuery (partitioned by its business date)."""

    partition: str = "day"  # or "month": a table spanning > 4,000 days stays in quota
    cluster_by: tuple[str, ...] = ()
    require_partition_filter: bool = False


@dataclass(frozen=True)
class TableManifest:
    table: str
    path: Path
    primary_key: tuple[str, ...]
    cursor: str | None
    business_date: str | None
    columns: dict[str, ColumnPolicy]
    k_anonymity: KAnonymity = KAnonymity()
    description: str = ""
    warehouse: WarehouseLayout = WarehouseLayout()

    @property
    def selected_columns(self) -> list[str]:
        """Source columns that may be read: sensitive authentication data never is."""
        return [c.name for c in self.columns.values() if c.action != "exclude"]

    def line_hint(self, column: str) -> str:
        return f"add `{column}: <class>` under `columns:` in {self.path}"


def _fail(path: Path, message: str) -> CardlakeError:
    return CardlakeError(f"manifest {path}: {message}")


def _column(path: Path, name: str, spec: Any) -> ColumnPolicy:
    if isinstance(spec, str):
        spec = {"class": spec}
    if not isinstance(spec, dict) or "class" not in spec:
        raise _fail(path, f"column {name!r} needs a class (one of {', '.join(sorted(CLASSES))})")
    unknown = set(spec) - {"class", "action", "normalize", "generalize", "display", "min", "max"}
    if unknown:
        raise _fail(path, f"column {name!r} has unknown settings {sorted(unknown)}")
    klass = spec["class"]
    if klass not in CLASSES:
        raise _fail(
            path,
            f"column {name!r} has unknown class {klass!r} (one of {', '.join(sorted(CLASSES))})",
        )
    generalize = spec.get("generalize")
    action = spec.get("action") or ("generalize" if generalize else CLASSES[klass])
    if action not in ALLOWED_ACTIONS[klass]:
        raise _fail(
            path,
            f"column {name!r}: action {action!r} is not allowed for class {klass!r} "
            f"(allowed: {', '.join(sorted(ALLOWED_ACTIONS[klass]))})",
        )
    if action == "generalize" and generalize not in GENERALIZATIONS:
        raise _fail(
            path,
            f"column {name!r}: generalize must be one of {', '.join(sorted(GENERALIZATIONS))}",
        )
    normalize = spec.get("normalize", "pan" if klass == "pan" else "none")
    if normalize not in NORMALIZERS:
        raise _fail(path, f"column {name!r}: normalize must be one of {', '.join(NORMALIZERS)}")
    display = tuple(spec.get("display", ()))
    if display and (klass != "pan" or not set(display) <= PAN_DISPLAY):
        raise _fail(path, f"column {name!r}: display is only for pan columns, with bin6/last4")
    bounds = {k: spec[k] for k in ("min", "max") if k in spec}
    if bounds and (
        klass != "measure" or not all(isinstance(v, int | float) for v in bounds.values())
    ):
        raise _fail(path, f"column {name!r}: min/max are numbers, for measure columns")
    return ColumnPolicy(name, klass, action, normalize, generalize, display, **bounds)


def load_manifest(path: Path) -> TableManifest:
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise _fail(path, f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise _fail(path, "must be a mapping with table, primary_key and columns")
    for required in ("table", "primary_key", "columns"):
        if not doc.get(required):
            raise _fail(path, f"missing {required!r}")
    columns = {name: _column(path, name, spec) for name, spec in doc["columns"].items()}
    primary_key = tuple(doc["primary_key"])
    for role, names in (
        ("primary_key", primary_key),
        ("cursor", (doc["cursor"],) if doc.get("cursor") else ()),
        ("business_date", (doc["business_date"],) if doc.get("business_date") else ()),
    ):
        for name in names:
            if name not in columns:
                raise _fail(path, f"{role} column {name!r} is not listed under columns")
            if columns[name].action not in {"keep"}:
                raise _fail(path, f"{role} column {name!r} must be kept unmasked")
    return TableManifest(
        table=doc["table"],
        path=path,
        primary_key=primary_key,
        cursor=doc.get("cursor"),
        business_date=doc.get("business_date"),
        columns=columns,
        k_anonymity=_k_anonymity(path, doc.get("k_anonymity") or {}),
        description=str(doc.get("description") or ""),
        warehouse=_warehouse_layout(path, doc.get("warehouse") or {}, columns, doc),
    )


def _warehouse_layout(
    path: Path, spec: dict[str, Any], columns: dict[str, ColumnPolicy], doc: dict[str, Any]
) -> WarehouseLayout:
    unknown = set(spec) - {"partition", "cluster_by", "require_partition_filter"}
    if unknown:
        raise _fail(path, f"warehouse has unknown settings {sorted(unknown)}")
    partition = spec.get("partition", "day")
    if partition not in {"day", "month"}:
        raise _fail(path, "warehouse.partition must be day or month")
    cluster_by = tuple(spec.get("cluster_by", ()))
    if len(cluster_by) > 4:
        raise _fail(path, "warehouse.cluster_by takes at most 4 columns (a BigQuery limit)")
    for name in cluster_by:
        if name not in columns or columns[name].action != "keep":
            raise _fail(path, f"warehouse.cluster_by column {name!r} must be a kept column")
    require_filter = bool(spec.get("require_partition_filter", False))
    if (require_filter or "partition" in spec) and not doc.get("business_date"):
        raise _fail(path, "warehouse partitioning needs a business_date column")
    return WarehouseLayout(partition, cluster_by, require_filter)


def _k_anonymity(path: Path, spec: dict[str, Any]) -> KAnonymity:
    unknown = set(spec) - {"k", "on_violation"}
    if unknown:
        raise _fail(path, f"k_anonymity has unknown settings {sorted(unknown)}")
    k, on_violation = spec.get("k", DEFAULT_K), spec.get("on_violation", "fail")
    if not isinstance(k, int) or k < 2:
        raise _fail(path, "k_anonymity.k must be an integer of at least 2")
    if on_violation not in {"fail", "suppress"}:
        raise _fail(path, "k_anonymity.on_violation must be fail or suppress")
    return KAnonymity(k, on_violation)


def manifest_dir() -> Path:
    return settings().manifest_dir or MANIFEST_DIR


def table_names(directory: Path | None = None) -> list[str]:
    """Every table with a manifest: the shipped ones in TABLES order, then others by name."""
    present = {path.stem for path in (directory or manifest_dir()).glob("*.yaml")}
    return [t for t in TABLES if t in present] + sorted(present - set(TABLES))


def in_extract_order(tables: list[str]) -> list[str]:
    """The given tables, the shipped ones in TABLES order first."""
    return [t for t in TABLES if t in tables] + [t for t in tables if t not in TABLES]


def manifest_for(table: str, directory: Path | None = None) -> TableManifest:
    path = (directory or manifest_dir()) / f"{table}.yaml"
    if not path.exists():
        raise CardlakeError(f"no manifest for table {table!r}: create {path}")
    manifest = load_manifest(path)
    if manifest.table != table:
        raise _fail(path, f"declares table {manifest.table!r}, expected {table!r}")
    return manifest


def check_source_columns(manifest: TableManifest, source_columns: list[str]) -> None:
    """Fail closed: every source column must be classified, every classified one must exist."""
    unclassified = [c for c in source_columns if c not in manifest.columns]
    if unclassified:
        names = ", ".join(f"{manifest.table}.{c}" for c in unclassified)
        raise CardlakeError(
            f"unclassified source column(s) {names}: no row was read. "
            + "; ".join(manifest.line_hint(c) for c in unclassified)
        )
    missing = [c for c in manifest.columns if c not in source_columns]
    if missing:
        raise CardlakeError(
            f"manifest {manifest.path} lists column(s) {', '.join(missing)} "
            f"that table {manifest.table} does not have"
        )
