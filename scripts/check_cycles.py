"""Fail when packages import each other in a circle, at any level of the tree.

At each package, its children (modules, and subpackages taken whole) are the nodes and a direct import
anywhere inside one child of something inside another is an edge. A cycle among those nodes is a
package-level cycle: the layering of that package no longer reads top to bottom.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import grimp

ROOTS = ("bot", "channels", "core", "handoff", "knowledge_base", "reports", "staff")


def child_of(package: str, module: str) -> str | None:
    """Return the child of ``package`` that holds ``module`` (None when it is outside it)."""
    if package == "":
        return module.split(".")[0]
    if not module.startswith(package + "."):
        return None
    return package + "." + module[len(package) + 1 :].split(".")[0]


def cycles(graph: grimp.ImportGraph, package: str, modules: set[str]) -> list[list[str]]:
    """Return the strongly connected groups (of two or more children) under ``package``."""
    edges: dict[str, set[str]] = defaultdict(set)
    for importer in modules:
        a = child_of(package, importer)
        if a is None:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            b = child_of(package, imported)
            if b is not None and b != a and b in modules | {child_of(package, m) for m in modules}:
                edges[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    """Print every cycle and return 1 when there is one."""
    graph = grimp.build_graph(*ROOTS)
    modules = {m for m in graph.modules if m.split(".")[0] in ROOTS}
    packages = {""} | {m.rsplit(".", 1)[0] for m in modules if "." in m}
    bad = 0
    for package in sorted(packages):
        inside = {m for m in modules if package == "" or m.startswith(package + ".")}
        for group in cycles(graph, package, inside):
            bad += 1
            print(f"import cycle under {package or '(top)'}: {' <-> '.join(group)}")
    if bad:
        print(f"{bad} import cycle(s); imports must point one way (README, 'Architecture')")
        return 1
    print(f"no import cycles among {len(modules)} modules in {len(packages)} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
