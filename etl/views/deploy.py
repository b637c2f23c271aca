"""Views as code, laid out like dbt: warehouse_sql/<layer>/<view>.sql with its metadata.

    warehouse_sql/staging/stg_transactions.sql            the view's query
    warehouse_sql/staging/stg_transactions.yaml           its metadata (below)
    warehouse_sql/staging/stg_transactions.fixture.yaml   its SQL test (etl.views.fixtures)

The folder is the layer and gives the dataset: staging/ (stg_ views) and intermediate/ (int_)
deploy to the stg dataset, marts/ (kpi_) and ops/ (mart_: data health) to the mart dataset. A
view reading another is deployed after it. `{{ project }}`, `{{ raw_dataset }}` etc. are
filled from the warehouse settings, so the same files serve the emulator and every project.

Metadata, which `deploy_views` pushes to BigQuery as the view's description and its columns'
descriptions (every column the view returns must be described, and no other):

    description: what the view is for
    owner: data-platform (cardlake)
    grain: one row per business date (Asia/Tokyo) with at least one transaction
    filters: captures only                     # optional
    formula: gmv_jpy = captured - refunded     # optional
    columns:
      business_date: the business date (Asia/Tokyo)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from google.cloud import bigquery

from etl.errors import CardlakeError
from etl.load.opstables import ensure_ops_tables
from etl.load.warehouse import ensure_datasets
from etl.settings import SQL_DIR, WarehouseSettings


@dataclass(frozen=True)
class Layer:
    dataset_key: str
    prefix: str


# In dependency direction: staging reads raw tables, intermediate and marts read views.
LAYERS = {
    "staging": Layer("stg_dataset", "stg_"),
    "intermediate": Layer("stg_dataset", "int_"),
    "marts": Layer("mart_dataset", "kpi_"),
    "ops": Layer("mart_dataset", "mart_"),
}
METADATA_SUFFIX = ".yaml"
FIXTURE_SUFFIX = ".fixture.yaml"
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
VIEW_REF = re.compile(r"\{\{\s*(?:stg|mart)_dataset\s*\}\}\.(\w+)`")
TABLE_REF = re.compile(r"\{\{\s*(raw|ops)_dataset\s*\}\}\.(\w+)`")
# BigQuery's limits on a table's and a column's description.
MAX_DESCRIPTION, MAX_COLUMN_DESCRIPTION = 16384, 1024
METADATA_TEXT_FIELDS = ("description", "owner", "grain", "filters", "formula")
METADATA_REQUIRED = ("description", "owner", "grain", "columns")


@dataclass(frozen=True)
class ViewMetadata:
    description: str
    owner: str
    grain: str
    columns: dict[str, str]
    filters: str | None = None
    formula: str | None = None

    def table_description(self) -> str:
        """The view's description in BigQuery: what it is, then grain, filters, formula, owner."""
        lines = [self.description, "", f"Grain: {self.grain}"]
        if self.filters:
            lines.append(f"Filters: {self.filters}")
        if self.formula:
            lines.append(f"Formula: {self.formula}")
        lines.append(f"Owner: {self.owner}")
        return "\n".join(lines)


def _text(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CardlakeError(f"{path}: {key} must be a non-empty text")
    return " ".join(value.split())


def _metadata_document(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CardlakeError(
            f"{path}: missing: every view has a metadata file next to its SQL "
            f"({', '.join(METADATA_REQUIRED)})"
        ) from None
    except yaml.YAMLError as exc:
        raise CardlakeError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise CardlakeError(f"{path}: metadata is a mapping of {', '.join(METADATA_REQUIRED)}")
    problems = []
    unknown = sorted(set(doc) - {*METADATA_TEXT_FIELDS, "columns"})
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)}")
    missing = [key for key in METADATA_REQUIRED if key not in doc]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if problems:
        raise CardlakeError(f"{path}: {'; '.join(problems)}")
    return doc


def _column_descriptions(path: Path, columns: Any) -> dict[str, str]:
    if not isinstance(columns, dict) or not columns:
        raise CardlakeError(f"{path}: columns maps every column the view returns to its meaning")
    described = {str(name): _text(path, f"column {name}", text) for name, text in columns.items()}
    long = [name for name, text in described.items() if len(text) > MAX_COLUMN_DESCRIPTION]
    if long:
        raise CardlakeError(
            f"{path}: description of {', '.join(long)} exceeds BigQuery's "
            f"{MAX_COLUMN_DESCRIPTION} characters"
        )
    return described


def load_metadata(path: Path) -> ViewMetadata:
    """A view's metadata file, checked: required keys, texts, BigQuery's length limits."""
    doc = _metadata_document(path)

    def optional(key: str) -> str | None:
        return None if doc.get(key) is None else _text(path, key, doc[key])

    metadata = ViewMetadata(
        description=_text(path, "description", doc["description"]),
        owner=_text(path, "owner", doc["owner"]),
        grain=_text(path, "grain", doc["grain"]),
        columns=_column_descriptions(path, doc["columns"]),
        filters=optional("filters"),
        formula=optional("formula"),
    )
    if len(metadata.table_description()) > MAX_DESCRIPTION:
        raise CardlakeError(f"{path}: description exceeds BigQuery's {MAX_DESCRIPTION} characters")
    return metadata


@dataclass(frozen=True)
class ViewDefinition:
    name: str
    layer: str
    path: Path
    sql: str
    metadata: ViewMetadata = field(compare=False)

    @property
    def dataset_key(self) -> str:
        return LAYERS[self.layer].dataset_key

    @property
    def metadata_path(self) -> Path:
        return self.path.with_suffix(METADATA_SUFFIX)

    @property
    def depends_on(self) -> set[str]:
        return set(VIEW_REF.findall(self.sql)) - {self.name}

    @property
    def reads_tables(self) -> set[str]:
        """Raw tables and ops tables (as ops.<name>) the view itself reads."""
        return {
            name if dataset == "raw" else f"ops.{name}"
            for dataset, name in TABLE_REF.findall(self.sql)
        }


def _layer_files(sql_dir: Path) -> list[tuple[str, Path]]:
    stray = sorted(p.name for p in sql_dir.glob("*.sql"))
    if stray:
        raise CardlakeError(
            f"{sql_dir}: {', '.join(stray)}: a view lives in its layer's folder "
            f"({', '.join(f'{name}/' for name in LAYERS)})"
        )
    for folder in sorted(p for p in sql_dir.iterdir() if p.is_dir()):
        if folder.name not in LAYERS and any(folder.glob("*.sql")):
            raise CardlakeError(
                f"{folder}: not a layer; views live in {', '.join(f'{n}/' for n in LAYERS)}"
            )
    return [(layer, p) for layer in LAYERS for p in sorted((sql_dir / layer).glob("*.sql"))]


def _orphan_metadata(sql_dir: Path, views: dict[str, ViewDefinition]) -> list[Path]:
    known = {v.metadata_path for v in views.values()}
    return sorted(
        p
        for layer in LAYERS
        for p in (sql_dir / layer).glob(f"*{METADATA_SUFFIX}")
        if not p.name.endswith(FIXTURE_SUFFIX) and p not in known
    )


def _read_views(sql_dir: Path) -> dict[str, ViewDefinition]:
    views: dict[str, ViewDefinition] = {}
    for layer, path in _layer_files(sql_dir):
        name = path.stem
        if not name.startswith(LAYERS[layer].prefix):
            raise CardlakeError(f"{path}: views in {layer}/ are named {LAYERS[layer].prefix}*")
        if name in views:
            raise CardlakeError(f"{path}: a view named {name} is also in {views[name].path}")
        views[name] = ViewDefinition(
            name, layer, path, path.read_text(), load_metadata(path.with_suffix(METADATA_SUFFIX))
        )
    if not views:
        raise CardlakeError(f"no view definitions (<layer>/*.sql) in {sql_dir}: nothing to deploy")
    orphans = _orphan_metadata(sql_dir, views)
    if orphans:
        raise CardlakeError(f"{orphans[0]}: metadata for no view (no {orphans[0].stem}.sql)")
    for view in views.values():
        unknown = view.depends_on - set(views)
        if unknown:
            raise CardlakeError(f"{view.path} reads unknown view(s) {', '.join(sorted(unknown))}")
    return views


def view_definitions(
    sql_dir: Path = SQL_DIR, only: list[str] | None = None
) -> list[ViewDefinition]:
    """Views in dependency order (a view after every view it reads).

    With `only`, the named views and everything they read.
    """
    views = _read_views(sql_dir)
    missing = sorted(set(only or ()) - set(views))
    if missing:
        raise CardlakeError(f"no view named {', '.join(missing)} in {sql_dir}")
    ordered: list[ViewDefinition] = []
    done: set[str] = set()

    def visit(view: ViewDefinition, path: tuple[str, ...]) -> None:
        if view.name in done:
            return
        if view.name in path:
            raise CardlakeError(f"view cycle: {' -> '.join((*path, view.name))}")
        for dep in sorted(view.depends_on):
            visit(views[dep], (*path, view.name))
        done.add(view.name)
        ordered.append(view)

    for name in only or list(views):
        visit(views[name], ())
    return ordered


def render(sql: str, settings: WarehouseSettings) -> str:
    context = {"project": settings.project, **settings.datasets}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in context:
            raise CardlakeError(f"unknown placeholder {{{{ {name} }}}} in SQL")
        return context[name]

    return PLACEHOLDER.sub(substitute, sql)


def view_id(settings: WarehouseSettings, view: ViewDefinition) -> str:
    return f"{settings.project}.{settings.datasets[view.dataset_key]}.{view.name}"


def describe_view(bq: bigquery.Client, table_id: str, view: ViewDefinition) -> None:
    """Set a deployed view's description and its columns' descriptions from its metadata.

    The columns are the ones the warehouse resolved for the view: metadata naming a column
    the view does not return, or leaving one out, is an error.
    """
    table = bq.get_table(table_id)
    returned = [f.name for f in table.schema]
    described = view.metadata.columns
    problems = []
    unknown = [c for c in described if c not in returned]
    if unknown:
        problems.append(
            f"describes column(s) {', '.join(unknown)} that {view.name} does not return"
        )
    undescribed = [c for c in returned if c not in described]
    if undescribed:
        problems.append(f"has no description of {view.name}'s column(s) {', '.join(undescribed)}")
    if problems:
        raise CardlakeError(f"{view.metadata_path}: {'; '.join(problems)}")
    table.description = view.metadata.table_description()
    table.schema = [
        bigquery.SchemaField.from_api_repr({**f.to_api_repr(), "description": described[f.name]})
        for f in table.schema
    ]
    bq.update_table(table, ["description", "schema"])


def deploy_views(
    bq: bigquery.Client,
    settings: WarehouseSettings,
    only: list[str] | None = None,
    sql_dir: Path = SQL_DIR,
) -> list[str]:
    """Create or replace the views (all, or `only` and what they read) in dependency order,
    each with its description and its columns' descriptions."""
    ensure_datasets(bq, settings)
    ensure_ops_tables(bq, settings)
    deployed = []
    for view in view_definitions(sql_dir, only=only):
        target = view_id(settings, view)
        bq.query(f"create or replace view `{target}` as\n{render(view.sql, settings)}").result()
        describe_view(bq, target, view)
        deployed.append(target)
    return deployed


def view_columns(bq: bigquery.Client, table_id: str) -> list[str]:
    """Output columns of a deployed view, as the warehouse resolves them."""
    return [f.name for f in bq.get_table(table_id).schema]


@dataclass(frozen=True)
class DryRun:
    view: str
    bytes_processed: int


def dry_run_views(
    bq: bigquery.Client, settings: WarehouseSettings, only: list[str] | None = None
) -> list[DryRun]:
    """Bytes each view's query would scan (BigQuery dry run: free, nothing is executed)."""
    if settings.use_emulator:
        raise CardlakeError(
            "dry runs need real BigQuery: the local emulator does not estimate bytes. Set "
            "CARDLAKE_BQ_PROJECT (and credentials) to dry-run against a real project"
        )
    config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
    return [
        DryRun(
            view_id(settings, view),
            int(
                bq.query(
                    f"select * from `{view_id(settings, view)}`", job_config=config
                ).total_bytes_processed
                or 0
            ),
        )
        for view in view_definitions(only=only)
    ]
