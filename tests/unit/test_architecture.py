"""The import graph: no module imports one that imports it back, at any distance.

Imports inside functions count (grimp reads every import statement). The layers and the
ban on production code importing the dev stack or the CLI are import-linter contracts in
pyproject.toml, run by `make check` and `make test`.
"""

from __future__ import annotations

import grimp

PACKAGES = ("cardlake", "etl", "masking", "dashboards", "devstack", "warehouse_sql")


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = grimp.build_graph(*PACKAGES)
    assert len(graph.modules) > 40
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    assert _cycles(graph) == [["a", "b", "c"]]


def test_masking_depends_only_on_leaf_modules_of_etl() -> None:
    graph = grimp.build_graph(*PACKAGES)
    reached = {
        imported
        for module in graph.find_descendants("masking") | {"masking"}
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith("etl")
    }
    assert reached <= {"etl.settings", "etl.errors", "etl.fileio", "etl.contracts.manifest"}
