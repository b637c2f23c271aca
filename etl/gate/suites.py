"""The Great Expectations suites of the gate, generated from the table manifests.

Each table's suite is a file next to the manifests, `etl/contracts/expectations/<table>.json`,
in the format of a GX expectations store (a `TupleFilesystemStoreBackend` over that
directory reads it as the suite named after the table). The files are generated, never
edited: `python -m etl.gate.suites` rewrites them from the manifests, and a unit test fails
when a committed file differs from what its manifest generates.

What a manifest cannot know is passed at validation time as suite parameters
(`{"$PARAMETER": name}`), with `suite_parameters`:

- `source_rows`: the source's row count for the run's window (the table's row count must
  equal it);
- `required_<column>`: 1.0 when the source declares the column NOT NULL, else 0.0 (the
  not-null expectation's `mostly`; at 0.0 the expectation holds whatever the nulls).

The suite itself: the primary key not null and unique; every kept or redacted column, and
every token column, not null as the source requires (quasi-identifiers are exempt:
k-anonymity suppression blanks them by design); declared ranges (`min`/`max`) between.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from etl.contracts.manifest import MANIFEST_DIR, TableManifest, manifest_for, table_names
from masking.policy import output_name, token_column

SUITES_DIR = MANIFEST_DIR.parent / "expectations"
ROW_COUNT_PARAMETER = "source_rows"


def required_parameter(column: str) -> str:
    """The suite parameter saying whether the source declares the column NOT NULL."""
    return f"required_{column}"


def not_null_columns(manifest: TableManifest) -> dict[str, str]:
    """Output columns whose not-null rule the source's schema decides, each with the source
    column it comes from (a token column's source column is the tokenized one)."""
    columns: dict[str, str] = {}
    for policy in manifest.columns.values():
        if policy.action == "token":
            columns[token_column(policy.name)] = policy.name
        contract = policy.klass != "quasi_identifier"
        if contract and policy.action in {"keep", "redact"}:
            name = output_name(policy)
            if name not in manifest.primary_key:
                columns[name] = policy.name
    return columns


def ranges(manifest: TableManifest) -> dict[str, tuple[float | None, float | None]]:
    """Kept columns with a declared range, and the range."""
    return {
        p.name: (p.min, p.max)
        for p in manifest.columns.values()
        if p.action == "keep" and (p.min is not None or p.max is not None)
    }


def suite_parameters(
    manifest: TableManifest, source_rows: int, source_not_null: list[str]
) -> dict[str, Any]:
    """The run's values of the suite's parameters."""
    required = set(source_not_null)
    return {
        ROW_COUNT_PARAMETER: source_rows,
        **{
            required_parameter(column): 1.0 if source in required else 0.0
            for column, source in not_null_columns(manifest).items()
        },
    }


def build_suite(manifest: TableManifest) -> Any:
    """The table's `great_expectations.ExpectationSuite`, from its manifest alone."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    keys = list(manifest.primary_key)
    expectations: list[Any] = [
        gxe.ExpectTableRowCountToEqual(value={"$PARAMETER": ROW_COUNT_PARAMETER}),
        *(gxe.ExpectColumnValuesToNotBeNull(column=key) for key in keys),
        gxe.ExpectColumnValuesToBeUnique(column=keys[0])
        if len(keys) == 1
        else gxe.ExpectCompoundColumnsToBeUnique(column_list=keys),
        *(
            gxe.ExpectColumnValuesToNotBeNull(
                column=column, mostly={"$PARAMETER": required_parameter(column)}
            )
            for column in not_null_columns(manifest)
        ),
        *(
            gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)
            for column, (low, high) in ranges(manifest).items()
        ),
    ]
    return gx.ExpectationSuite(
        name=manifest.table,
        expectations=expectations,
        meta={"generated_from": f"etl/contracts/manifests/{manifest.table}.yaml"},
    )


def suite_text(manifest: TableManifest) -> str:
    """The suite file's text, as committed."""
    return json.dumps(build_suite(manifest).to_json_dict(), indent=2, sort_keys=True) + "\n"


def write_suites(directory: Path = SUITES_DIR, manifests: Path = MANIFEST_DIR) -> list[Path]:
    """(Re)write every table's suite file from its manifest; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table in table_names(manifests):
        path = directory / f"{table}.json"
        path.write_text(suite_text(manifest_for(table, manifests)))
        written.append(path)
    return written


def main() -> None:
    for path in write_suites():
        print(path)


if __name__ == "__main__":
    main()
