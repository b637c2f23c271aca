"""The Glue bundle's parts that need no server: the schedule, what the job imports, and the
job script's Glue arguments (the round trip through Glue is tests/integration/test_glue_package.py)."""

from __future__ import annotations

import datetime as dt

import grimp
import pytest

from etl.contracts.manifest import table_names
from etl.deploy.glue import NOT_FOR_THE_JOB, PACKAGES, python_modules, utc_cron
from etl.errors import CardlakeError
from etl.glue import settings_from_arguments, source_from_jdbc_conf
from etl.jobs.extract_table import DEFAULTS, job_tables


@pytest.mark.parametrize(
    ("jst", "cron"),
    [
        (dt.time(2, 30), "cron(30 17 * * ? *)"),
        (dt.time(9, 0), "cron(0 0 * * ? *)"),
        (dt.time(8, 59), "cron(59 23 * * ? *)"),
        (dt.time(23, 45), "cron(45 14 * * ? *)"),
    ],
)
def test_the_tokyo_time_becomes_a_utc_cron(jst: dt.time, cron: str) -> None:
    assert utc_cron(jst) == cron


def test_the_bundle_holds_what_the_job_imports_and_nothing_for_the_cli() -> None:
    graph = grimp.build_graph(
        "etl", "masking", "warehouse_sql", "cardlake", "dashboards", "devstack",
        include_external_packages=True,
    )  # fmt: skip
    job = "etl.jobs.extract_table"
    closure = graph.find_upstream_modules(job) | {job}
    first_party = {m.split(".")[0] for m in closure}
    assert first_party & {"cardlake", "devstack", "dashboards"} == set()
    assert {"etl", "masking"} <= set(PACKAGES)
    imported = {
        i.split(".")[0] for m in closure for i in graph.find_modules_directly_imported_by(m)
    }
    left_out = {"typer", "rich", "altair", "vl_convert"}  # NOT_FOR_THE_JOB's import names
    assert imported & left_out == set()
    assert set(NOT_FOR_THE_JOB) == {"pyspark", "typer", "rich", "altair", "vl-convert-python"}
    modules = python_modules()
    names = {m.split("==")[0].lower() for m in modules}
    for needed, module in [
        ("pandas", "pandas"),
        ("pyarrow", "pyarrow"),
        ("google-cloud-bigquery", "google"),
        ("sqlalchemy", "sqlalchemy"),
        ("pymysql", "pymysql"),
        ("great-expectations", "great_expectations"),
        ("pyyaml", "yaml"),
        ("pydantic-settings", "pydantic_settings"),
    ]:
        assert module in imported and needed in names
    assert not [m for m in modules if "," in m or "pyspark" in m]


def test_settings_come_from_job_arguments_but_never_secrets() -> None:
    args = {"JOB_NAME": "x", "CARDLAKE_BQ_PROJECT": "p", "all": "true"}
    assert settings_from_arguments(args) == {"CARDLAKE_BQ_PROJECT": "p"}
    for secret in ("CARDLAKE_SOURCE_PASSWORD", "CARDLAKE_KEYS"):
        with pytest.raises(CardlakeError, match=f"--{secret} must not be a job argument"):
            settings_from_arguments({secret: "hunter2"})


def test_the_source_comes_from_the_connections_jdbc_conf() -> None:
    conf = {
        "fullUrl": "jdbc:mysql://etl.cluster-custom-x.rds.amazonaws.com:3306/cardissuer",
        "url": "jdbc:mysql://etl.cluster-custom-x.rds.amazonaws.com:3306",
        "user": "etl",
        "password": "from-the-secret",
        "vendor": "mysql",
    }
    assert source_from_jdbc_conf(conf) == {
        "CARDLAKE_SOURCE_HOST": "etl.cluster-custom-x.rds.amazonaws.com",
        "CARDLAKE_SOURCE_PORT": "3306",
        "CARDLAKE_SOURCE_DATABASE": "cardissuer",
        "CARDLAKE_SOURCE_USER": "etl",
        "CARDLAKE_SOURCE_PASSWORD": "from-the-secret",
    }
    with pytest.raises(CardlakeError, match="no jdbc:mysql://host:port/database URL"):
        source_from_jdbc_conf({**conf, "fullUrl": conf["url"], "url": ""})


def test_the_job_runs_one_table_or_all_of_them() -> None:
    assert job_tables({**DEFAULTS, "table": "cards"}) == ["cards"]
    assert job_tables({**DEFAULTS, "all": "true"}) == table_names()
    for args in ({**DEFAULTS}, {**DEFAULTS, "all": "true", "table": "cards"}):
        with pytest.raises(CardlakeError, match="either --table T or --all true"):
            job_tables(args)
