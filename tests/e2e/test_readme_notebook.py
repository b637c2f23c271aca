"""The README's notebook snippets: the local one runs against the test warehouse, the
real-BigQuery one is linted (it needs credentials and a project)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.session import REPO, LoadedWarehouse

README = REPO / "README.md"


def snippet(name: str) -> str:
    match = re.search(
        rf"<!-- notebook: {name} -->\n```python\n(.*?)```", README.read_text(), re.DOTALL
    )
    assert match, f"no notebook snippet {name!r} in the README"
    return match.group(1)


@pytest.mark.stack
@pytest.mark.spark
@pytest.mark.warehouse
def test_the_local_notebook_snippet_reads_a_kpi_view(
    loaded_warehouse: LoadedWarehouse, bq_emulator: str
) -> None:
    code = snippet("local").replace("http://127.0.0.1:19050", bq_emulator)
    mart = loaded_warehouse.settings.mart_dataset  # the test session's views live in e2e_*
    code = code.replace("`cardlake-local.mart.", f"`cardlake-local.{mart}.")
    scope: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)
    gmv = scope["gmv"]
    assert list(gmv.columns) == [  # type: ignore[attr-defined]
        "business_date",
        "gmv_jpy",
        "capture_count",
        "average_ticket_jpy",
    ]
    assert len(gmv) == 7  # type: ignore[arg-type]


def test_the_bigquery_notebook_snippet_is_valid_python(tmp_path: Path) -> None:
    path = tmp_path / "bigquery_snippet.py"
    path.write_text(snippet("bigquery"))
    compile(path.read_text(), str(path), "exec")
    ruff = Path(sys.executable).parent / "ruff"
    lint = subprocess.run(
        [str(ruff), "check", "--no-cache", str(path)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout
