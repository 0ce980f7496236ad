"""The modules of ``goldenloop.ingest`` import each other without a cycle (issue 15, item 7: the
span loader and the grade loader imported each other). Imports inside functions count too: a
cycle hidden in a function is still a cycle, only a later one."""

from __future__ import annotations

import ast
from pathlib import Path

import goldenloop.ingest

PACKAGE = "goldenloop.ingest"


def _imports(path: Path) -> set[str]:
    """The ``goldenloop.ingest`` modules a file imports, wherever in the file."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:  # from goldenloop.ingest import loader, tables
                out |= {f"{PACKAGE}.{a.name}" for a in node.names}
            elif node.module.startswith(PACKAGE + "."):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith(PACKAGE + ".")}
    return out


def _graph() -> dict[str, set[str]]:
    folder = Path(goldenloop.ingest.__file__).parent
    modules = {f"{PACKAGE}.{p.stem}": p for p in folder.glob("*.py") if p.stem != "__init__"}
    return {name: _imports(path) & set(modules) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_the_finder_sees_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_ingest_modules_import_each_other_without_a_cycle():
    graph = _graph()
    assert f"{PACKAGE}.loader" in graph and f"{PACKAGE}.grade_tables" in graph
    assert f"{PACKAGE}.grade_tables" in graph[f"{PACKAGE}.loader"]  # the finder reads lazy ones
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))
