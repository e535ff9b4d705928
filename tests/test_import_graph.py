"""No import cycle anywhere, imports under `if TYPE_CHECKING:` included.

import-linter's contracts skip type-checking imports (pyproject.toml says so for every contract,
as the setting is global), so a cycle hidden behind one would pass them; this test counts them."""

from __future__ import annotations

import sys
import textwrap

import grimp


def sibling_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Groups of sibling modules (children of one package) that import each other in a cycle,
    counting an import between their descendants as one between them."""
    cycles = []
    for package in sorted(graph.modules):
        children = graph.find_children(package)
        if len(children) < 2:
            continue
        owner = {}
        for child in children:
            owner[child] = child
            for descendant in graph.find_descendants(child):
                owner[descendant] = child
        edges: dict[str, set[str]] = {child: set() for child in children}
        for module, child in owner.items():
            for imported in graph.find_modules_directly_imported_by(module):
                target = owner.get(imported)
                if target is not None and target != child:
                    edges[child].add(target)
        cycles.extend(_strongly_connected(edges))
    return cycles


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm; only the components of more than one module (a cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_type_checking_imports_included():
    graph = grimp.build_graph("pe_search", "indexer", exclude_type_checking_imports=False, cache_dir=None)
    assert sibling_cycles(graph) == []


def test_a_cycle_behind_type_checking_is_counted(tmp_path, monkeypatch):
    package = tmp_path / "cyclic_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic_pkg import b\n")
    (package / "b.py").write_text(
        textwrap.dedent(
            """
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                from cyclic_pkg.a import something
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("cyclic_pkg", None)
    graph = grimp.build_graph("cyclic_pkg", exclude_type_checking_imports=False, cache_dir=None)
    assert sibling_cycles(graph) == [["cyclic_pkg.a", "cyclic_pkg.b"]]
    hidden = grimp.build_graph("cyclic_pkg", exclude_type_checking_imports=True, cache_dir=None)
    assert sibling_cycles(hidden) == []
