"""The direction of imports (DESIGN.md, "Parts and where they live"), read from the import
graph of the source (grimp, the engine of import-linter; imports inside functions count):

(a) ``goldenloop.store`` imports no feature: only itself, the named errors and the price table;
(b) ``goldenloop`` never imports streamlit, nor the app (``goldenloop_app``: pages read the
    library, never the other way);
(c) a feature's ``sql*`` and ``schema`` modules are its own: no other part, nor the app, imports
    them, except ``goldenloop.schema``, which assembles the one ordered list of migrations (and, for
    ``sql`` modules only, the thin CLI modules at the edge). Features meet through public
    modules (``review.records``, ``metrics.where_clause``, ``judge.runs``, ...) and the store's
    shared SQL rules.

The checks run on the real package and, so they are known to catch what they are for, on a
small package written here with one import of each forbidden kind.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import grimp
import pytest

# What the store may import besides itself: leaves below every feature.
STORE_MAY_IMPORT = {"errors", "pricing"}
# Known exceptions, each with its reason. The ClickHouse text of the Monitor's query sits in the
# span store until metrics keeps both dialects side by side (DESIGN.md: span store).
ALLOWED = {("goldenloop.spanstore.monitor", "goldenloop.metrics.sql")}
_OWN = re.compile(r"^(?P<root>\w+)\.(?P<part>\w+)\.(?P<kind>sql\w*|schema)$")


def _graph(*packages: str) -> grimp.ImportGraph:
    return grimp.build_graph(*packages, include_external_packages=True, cache_dir=None)


def store_violations(graph: grimp.ImportGraph, root: str) -> list[str]:
    store = f"{root}.store"
    allowed = {f"{root}.{name}" for name in STORE_MAY_IMPORT}
    found = []
    for module in sorted(graph.find_descendants(store) | {store}):
        for imported in graph.find_modules_directly_imported_by(module):
            inside = imported == root or imported.startswith(f"{root}.")
            if inside and not (imported == store or imported.startswith(f"{store}.")
                               or imported in allowed):
                found.append(f"{module} -> {imported}")
    return sorted(found)


def streamlit_importers(graph: grimp.ImportGraph, root: str) -> list[str]:
    if "streamlit" not in graph.modules:
        return []
    return sorted(m for m in graph.find_modules_that_directly_import("streamlit")
                  if m == root or m.startswith(f"{root}."))


def app_importers(graph: grimp.ImportGraph, root: str, app: str) -> list[str]:
    return sorted(f"{m} -> {i}" for m in graph.modules if m == root or m.startswith(f"{root}.")
                  for i in graph.find_modules_directly_imported_by(m)
                  if i == app or i.startswith(f"{app}."))


def foreign_sql_imports(graph: grimp.ImportGraph, root: str) -> list[str]:
    found = []
    for module in sorted(graph.modules):
        match = _OWN.match(module)
        if not match or match["root"] != root or match["part"] == "store":
            continue
        own = f"{root}.{match['part']}"
        for importer in sorted(graph.find_modules_that_directly_import(module)):
            if importer == own or importer.startswith(f"{own}."):
                continue
            if match["kind"] == "schema" and importer == f"{root}.schema":
                continue
            edge = match["kind"] != "schema" and importer.startswith(f"{root}.cli")
            if edge or (importer, module) in ALLOWED:
                continue
            found.append(f"{importer} -> {module}")
    return found


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return _graph("goldenloop", "goldenloop_app")


def test_the_store_imports_no_feature(graph):
    assert store_violations(graph, "goldenloop") == []


def test_the_library_never_imports_streamlit(graph):
    assert streamlit_importers(graph, "goldenloop") == []


def test_the_library_never_imports_the_app(graph):
    assert app_importers(graph, "goldenloop", "goldenloop_app") == []


def test_no_part_imports_another_parts_sql_or_schema(graph):
    assert foreign_sql_imports(graph, "goldenloop") == []


def test_the_checks_find_each_forbidden_import(tmp_path: Path, monkeypatch):
    root = tmp_path / "fakeloop"
    files = {
        "__init__.py": "",
        "errors.py": "",
        "schema.py": "from fakeloop.review import schema\n",
        "store/__init__.py": "",
        "store/store.py": "from fakeloop import errors\n",
        "store/summary.py": "from fakeloop.review import queues\n",         # (a)
        "review/__init__.py": "",
        "review/schema.py": "",
        "review/sql.py": "from fakeloop.store import store\n",
        "review/queues.py": "from fakeloop.review import sql\n",
        "sampling/__init__.py": "",
        "sampling/queues.py": "from fakeloop.review import sql\n",          # (c)
        "sampling/page.py": "def draw():\n    import streamlit\n",          # (b)
        "cli_review.py": "from fakeloop.review import sql\n",              # the edge: allowed
        "cli_admin.py": "from fakeloop.review import schema\n",           # (c): schemas too
        "server.py": "import fakeloop_app.home\n",                        # (b): the app
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (tmp_path / "streamlit.py").write_text("")
    (tmp_path / "fakeloop_app").mkdir()
    (tmp_path / "fakeloop_app" / "__init__.py").write_text("")
    (tmp_path / "fakeloop_app" / "home.py").write_text("from fakeloop.review import sql\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        g = _graph("fakeloop", "fakeloop_app")
        assert app_importers(g, "fakeloop", "fakeloop_app") == ["fakeloop.server -> fakeloop_app.home"]
        assert store_violations(g, "fakeloop") == ["fakeloop.store.summary -> fakeloop.review.queues"]
        assert streamlit_importers(g, "fakeloop") == ["fakeloop.sampling.page"]
        assert foreign_sql_imports(g, "fakeloop") == ["fakeloop.cli_admin -> fakeloop.review.schema",
                                                      "fakeloop.sampling.queues -> fakeloop.review.sql",
                                                      "fakeloop_app.home -> fakeloop.review.sql"]
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] in ("fakeloop", "fakeloop_app")]:
            del sys.modules[name]
