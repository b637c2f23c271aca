"""Looker Studio Linking API URLs: each dashboard's template report, bound to the views.

Opening the URL creates a copy of the template report whose BigQuery data sources point
at the deployed views of the configured project; the user saves it with "Edit and share".
A data source alias (`ds.<alias>.*`) must match the alias of that data source in the
template report; the aliases come from `looker_studio.data_sources` in the dashboard's
YAML, or default to the view names.
"""

from __future__ import annotations

import os
from urllib.parse import urlencode

from dashboards.spec import Dashboard
from etl.settings import WarehouseSettings
from etl.views import deploy as views

LINKING_API = "https://lookerstudio.google.com/reporting/create"


def template_report_id(dashboard: Dashboard) -> str:
    """CARDLAKE_LOOKER_TEMPLATE_<NAME> overrides the id in the dashboard's YAML."""
    return os.environ.get(
        f"CARDLAKE_LOOKER_TEMPLATE_{dashboard.name.upper()}", dashboard.looker_template_report_id
    )


def data_sources(dashboard: Dashboard) -> dict[str, str]:
    declared = dashboard.looker_data_sources
    return declared or {view: view for view in dashboard.views}


def linking_url(dashboard: Dashboard, settings: WarehouseSettings) -> str:
    definitions = {v.name: v for v in views.view_definitions()}
    params = {"r.reportName": f"cardlake - {dashboard.title}"}
    template = template_report_id(dashboard)
    if template:
        params["c.reportId"] = template
    for alias, view in data_sources(dashboard).items():
        definition = definitions[view]
        params |= {
            f"ds.{alias}.connector": "bigQuery",
            f"ds.{alias}.type": "TABLE",
            f"ds.{alias}.projectId": settings.project,
            f"ds.{alias}.datasetId": settings.datasets[definition.dataset_key],
            f"ds.{alias}.tableId": view,
            f"ds.{alias}.datasourceName": f"cardlake {view}",
        }
    return f"{LINKING_API}?{urlencode(params)}"
