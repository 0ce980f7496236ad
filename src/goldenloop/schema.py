"""The one ordered list of schema migrations, and ``open_store``: the way to open a writable
store.

Each part keeps its tables' migrations beside its own code (``review.schema``,
``judge.schema``, ...) and the store keeps only the runner, so the list has to be assembled
here, above every feature: the store imports no feature, and no feature imports another's
schema. A feature's migration is named here by module and function and imported only when it
is applied. ``open_store`` passes the list to ``Store``, which refuses to open a writable store
without one (an unmigrated file would fail later with an obscure missing-table error), so
every process — CLI, server, app, benchmarks, tests — migrates the same way.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb

from goldenloop.store import migrations as runner
from goldenloop.store.migrations import Migration
from goldenloop.store.schema_core import m001_traces, m003_operations, m004_moderation_signals
from goldenloop.store.schema_trust import m012_trusted_figures
from goldenloop.store.store import Store

_ROOT = Path(__file__).resolve().parent
_SCHEMA_MODULES: dict[str, ModuleType] = {}


def _schema_module(module: str) -> ModuleType:
    """A feature's schema module, run from its file without its package's ``__init__``.

    A schema module is DDL on a duckdb cursor and imports nothing of its feature, while a
    feature's ``__init__`` may load its whole API (scipy, pandas, pydantic: seconds of CPU):
    creating a new database, as a first ``goldenloop import`` does, would pay for every
    feature. Loaded under a private name, so the feature's own import is untouched."""
    if (loaded := sys.modules.get(f"goldenloop.{module}")) is not None:
        return loaded
    if module not in _SCHEMA_MODULES:
        path = _ROOT.joinpath(*module.split(".")).with_suffix(".py")
        spec = importlib.util.spec_from_file_location(f"goldenloop._migrations.{module}", path)
        assert spec is not None and spec.loader is not None, path
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _SCHEMA_MODULES[module] = mod
    return _SCHEMA_MODULES[module]


def _feature(module: str, name: str) -> Migration:
    """A feature's migration, loaded when it is applied: opening an up-to-date store then
    loads no feature, and creating one loads only the features' schema modules."""
    def apply(cur: duckdb.DuckDBPyConnection) -> None:
        getattr(_schema_module(module), name)(cur)

    apply.__name__ = apply.__qualname__ = name
    return apply


MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "traces", m001_traces),
    (2, "review", _feature("review.schema", "m002_review")),
    (3, "operations", m003_operations),
    (4, "moderation_signals", m004_moderation_signals),
    (5, "review_workbench", _feature("review.schema", "m005_review_workbench")),
    (6, "judge", _feature("judge.schema", "m006_judge")),
    (7, "golden", _feature("golden.schema", "m007_golden")),
    (8, "agreement", _feature("agreement.schema", "m008_agreement")),
    (9, "anomalies", _feature("anomalies.schema", "m009_anomalies")),
    (10, "alerts", _feature("alerts.schema", "m010_alerts")),
    (11, "import_hardening", _feature("ingest.schema", "m011_import_hardening")),
    (12, "trusted_figures", m012_trusted_figures),
    (13, "experiments", _feature("experiments.schema", "m013_experiments")),
    (14, "argilla", _feature("argilla_sync.schema", "m014_argilla")),
    (15, "operations_2", _feature("ops.schema", "m015_operations")),
    (16, "argilla_golden", _feature("argilla_sync.schema", "m016_argilla_golden")),
    (17, "queue_criteria", _feature("review.schema", "m017_queue_criteria")),
    (18, "golden_curation", _feature("golden.schema", "m018_golden_curation")),
    (19, "argilla_erasures", _feature("argilla_sync.schema", "m019_argilla_erasures")),
)
LATEST = MIGRATIONS[-1][0]


def open_store(path: str | Path, **kwargs: Any) -> Store:
    """Open (and, when writable, migrate) the store at ``path``; keywords go to ``Store``."""
    return Store(path, migrations=MIGRATIONS, **kwargs)


def migrate(cur: duckdb.DuckDBPyConnection, *, target: int = LATEST) -> list[int]:
    """Apply every migration above the database's version up to ``target``."""
    return runner.migrate(cur, MIGRATIONS, target=target)


def current_version(cur: duckdb.DuckDBPyConnection) -> int:
    return runner.current_version(cur)
