"""KPI views as code: warehouse_sql/<layer>_<name>.sql, rendered with configured names.

Layers map to datasets (stg_ and int_ to stg, kpi_ and mart_ to mart); a view reading
another is deployed after it. `{{ project }}`, `{{ raw_dataset }}` etc. are filled from the
warehouse settings, so the same files serve the emulator and every real project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from google.cloud import bigquery

from etl.errors import CardlakeError
from etl.load.opstables import ensure_ops_tables
from etl.load.warehouse import ensure_datasets
from etl.settings import SQL_DIR, WarehouseSettings

LAYER_DATASET = {
    "stg": "stg_dataset",
    "int": "stg_dataset",
    "kpi": "mart_dataset",
    "mart": "mart_dataset",
}
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
VIEW_REF = re.compile(r"\b((?:stg|int|kpi|mart)_\w+)`")


@dataclass(frozen=True)
class ViewDefinition:
    name: str
    path: Path
    sql: str

    @property
    def dataset_key(self) -> str:
        return LAYER_DATASET[self.name.split("_", 1)[0]]

    @property
    def depends_on(self) -> set[str]:
        return set(VIEW_REF.findall(self.sql)) - {self.name}


def view_definitions(
    sql_dir: Path = SQL_DIR, only: list[str] | None = None
) -> list[ViewDefinition]:
    """Views in dependency order (a view after every view it reads).

    With `only`, the named views and everything they read.
    """
    views = {
        p.stem: ViewDefinition(p.stem, p, p.read_text()) for p in sorted(sql_dir.glob("*.sql"))
    }
    if not views:
        raise CardlakeError(f"no view definitions (*.sql) in {sql_dir}: nothing to deploy")
    for view in views.values():
        if view.name.split("_", 1)[0] not in LAYER_DATASET:
            raise CardlakeError(f"{view.path}: view names start with stg_, int_, kpi_ or mart_")
        unknown = view.depends_on - set(views)
        if unknown:
            raise CardlakeError(f"{view.path} reads unknown view(s) {', '.join(sorted(unknown))}")
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


def deploy_views(
    bq: bigquery.Client,
    settings: WarehouseSettings,
    only: list[str] | None = None,
    sql_dir: Path = SQL_DIR,
) -> list[str]:
    """Create or replace the views (all, or `only` and what they read) in dependency order."""
    ensure_datasets(bq, settings)
    ensure_ops_tables(bq, settings)
    deployed = []
    for view in view_definitions(sql_dir, only=only):
        target = view_id(settings, view)
        bq.query(f"create or replace view `{target}` as\n{render(view.sql, settings)}").result()
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
