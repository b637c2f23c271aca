"""The gate's Great Expectations project: its stores under the lake, `<lake>/_gx/`.

    <lake>/_gx/expectations/<table>.json            the suite each table's last run used
    <lake>/_gx/validation_definitions/, checkpoints/ one Checkpoint per table
    <lake>/_gx/validations/<table>/<run_id>/...     one validation result per table run
    <lake>/_gx/data_docs/index.html                 Data Docs, built once per `run --all`

Suites come from the files next to the manifests (etl.gate.suites) and are copied into the
lake's expectations store when a run uses them, so the package directory is only read.

The context is GX's `EphemeralDataContext` with these file stores: the stores are the
project; only the pandas data source, which a run creates for its in-memory frame, is not
stored. (A `FileDataContext` would also write that data source into a
great_expectations.yml at every run, one file shared by runs of different tables.)

GX 1.x has no S3 or GCS store backend (the 0.x TupleS3StoreBackend is gone), so for an
s3:// or gs:// lake the stores are a local directory per process, copied under
`<lake>/_gx/` after each write through the lake's own Store (etl.lake.store).

Results hold counts only: result format BASIC with partial_unexpected_count 0 (no sample
values), and no frame is stored (the batch is the run's in-memory frame).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl.lake.store import Store

GX_KEY = "_gx"
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}
STORES = ("expectations", "validation_definitions", "checkpoints", "validations")
DATA_DOCS = "data_docs"
SITE = "cardlake"
# The Data Docs index lists at most this many validation results (newest first).
INDEX_LIMIT = 200


@functools.cache
def _staging(uri: str) -> Path:
    """A process's local copy of a remote lake's GX stores."""
    path = Path(tempfile.mkdtemp(prefix="cardlake-gx-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def project_root(lake: Store) -> Path:
    """Where the GX stores are written: the lake's _gx directory, or a local staging copy."""
    return Path(lake.path(GX_KEY)) if lake.is_local else _staging(lake.uri)


@functools.cache
def _synced(uri: str) -> dict[Path, tuple[int, int]]:
    """The staged files a process has copied to a remote lake, with their mtime and size."""
    return {}


def sync(lake: Store) -> None:
    """Copy a remote lake's staged GX files that are new or changed since the last copy
    under <lake>/_gx/ (no-op for a local lake): each table's run adds a few files, and
    copying the whole staging directory every time would grow with every table."""
    if lake.is_local:
        return
    synced = _synced(lake.uri)
    stamps = {}
    for path in project_root(lake).rglob("*"):
        if path.is_file():
            stat = path.stat()
            stamps[path] = (stat.st_mtime_ns, stat.st_size)
    changed = {path for path, stamp in stamps.items() if synced.get(path) != stamp}
    lake.upload_tree(project_root(lake), GX_KEY, only=changed)
    synced.update({path: stamps[path] for path in changed})


def _backend(root: Path, name: str) -> dict[str, Any]:
    return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(root / name)}


def context(lake: Store) -> Any:
    """A GX context whose stores are the lake's _gx directory."""
    from great_expectations.data_context.types.base import DataContextConfig, ProgressBarsConfig

    gx = great_expectations()
    root = project_root(lake)
    config = DataContextConfig(
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        stores={
            "expectations_store": {
                "class_name": "ExpectationsStore",
                "store_backend": _backend(root, "expectations"),
            },
            "validation_results_store": {
                "class_name": "ValidationResultsStore",
                "store_backend": _backend(root, "validations"),
            },
            "checkpoint_store": {
                "class_name": "CheckpointStore",
                "store_backend": _backend(root, "checkpoints"),
            },
            "validation_definition_store": {
                "class_name": "ValidationDefinitionStore",
                "store_backend": _backend(root, "validation_definitions"),
            },
        },
        data_docs_sites={
            SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": _backend(root, DATA_DOCS),
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "validation_results_limit": INDEX_LIMIT,
                },
            }
        },
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def great_expectations() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every pandas batch smaller than this (an MD5 over a hash of every
    # value, ~1.7 s per million rows of the gate's frame) into batch markers nobody reads.
    pandas_execution_engine.HASH_THRESHOLD = 0
    return gx


@dataclass(frozen=True)
class GxRun:
    """Where a validation is stored: the lake, under the run's id."""

    lake: Store
    run_id: str


def run_checkpoint(stores: GxRun | None, suite: Any, frame: Any, parameters: dict[str, Any]) -> Any:
    """Validate the frame with the suite through the table's Checkpoint; its result is
    stored under the lake's _gx/ (stores None: in memory, nothing written)."""
    gx = great_expectations()
    import pandas as pd
    from great_expectations.core.run_identifier import RunIdentifier

    ctx = context(stores.lake) if stores is not None else _memory_context()
    table = suite.name
    suite = ctx.suites.add_or_update(suite)
    batch = (
        ctx.data_sources.add_pandas(f"cardlake_{table}")
        .add_dataframe_asset(table)
        .add_batch_definition_whole_dataframe("snapshot")
    )
    definition = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=table, data=batch, suite=suite)
    )
    checkpoint = ctx.checkpoints.add_or_update(
        gx.Checkpoint(name=table, validation_definitions=[definition], result_format=RESULT_FORMAT)
    )
    # GX's column rules first select the rows where the column is not NULL. Copy-on-write
    # pandas answers a selection of every row with a lazy copy, not a copy of the whole
    # frame: at 10M rows GX's peak above the frame fell from 0.52 to 0.29 GB, same results.
    with pd.option_context("mode.copy_on_write", True):
        result = checkpoint.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=parameters,
            run_id=RunIdentifier(run_name=stores.run_id) if stores is not None else None,
        )
    if stores is not None:
        sync(stores.lake)
    (outcome,) = result.run_results.values()
    return outcome


def _memory_context() -> Any:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = great_expectations().get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def build_data_docs(lake: Store, run_name: str) -> str | None:
    """Render the run's validation results and the suites into the lake's Data Docs, and
    its index (the newest results); returns the index page's location, or None when the
    run validated no table. Pages of earlier runs stay as they were rendered."""
    root = project_root(lake)
    if not (root / "validations").is_dir():
        return None
    ctx = context(lake)
    results = [
        key for key in ctx.validation_results_store.list_keys() if key.run_id.run_name == run_name
    ]
    if not results:
        return None
    suites = ctx.expectations_store.list_keys()
    ctx.build_data_docs(site_names=[SITE], resource_identifiers=[*suites, *results])
    sync(lake)
    return lake.uri_of(f"{GX_KEY}/{DATA_DOCS}/index.html")


def data_docs_index(lake: Store) -> str | None:
    """The Data Docs index's location if it has been built."""
    key = f"{GX_KEY}/{DATA_DOCS}/index.html"
    return lake.uri_of(key) if lake.exists(key) else None
