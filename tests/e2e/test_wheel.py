"""The wheel, installed outside the checkout, deploys exactly the checkout's views and builds
the dashboards: SQL, manifests and assets travel as package data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from etl.views.deploy import view_definitions
from tests.support.session import REPO, LoadedWarehouse

pytestmark = [pytest.mark.stack, pytest.mark.spark, pytest.mark.warehouse]
ROOT = REPO


def test_an_installed_wheel_deploys_the_views_and_builds_the_dashboards(
    loaded_warehouse: LoadedWarehouse, tmp_path: Path
) -> None:
    dist, venv, source = tmp_path / "dist", tmp_path / "venv", tmp_path / "source"
    # Built from a copy of the checkout's files (tracked or new, not ignored): an in-tree
    # build would also package what an earlier build left in build/lib, such as moved views.
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = list(dist.glob("cardlake-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # The dependencies come from the test venv (no second download of pyspark); the
    # project itself only from the wheel: the checkout is neither the cwd nor on the path.
    env = {
        **os.environ,
        "PYTHONPATH": sysconfig.get_paths()["purelib"],
        "CARDLAKE_BQ_DATASET_PREFIX": "e2e_",
    }

    def cardlake(*args: str) -> str:
        proc = subprocess.run(
            [str(venv / "bin" / "cardlake"), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import etl, warehouse_sql; print(etl.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where
    deployed = cardlake("warehouse", "deploy").splitlines()
    names = sorted(line.rsplit(".", 1)[-1] for line in deployed)
    assert names == sorted(v.name for v in view_definitions())
    built = cardlake("dashboards", "build", "--out", str(tmp_path / "pages"))
    assert "index.html" in built
    assert (tmp_path / "pages" / "index.html").is_file()
    assert any((tmp_path / "pages").glob("*.html"))
