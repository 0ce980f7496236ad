"""The one ordered list of schema migrations, and ``open_store``: the way to open a writable
store.

Each part keeps its tables' migrations beside its own code (``review.schema``,
``judge.schema``, ...) and the store keeps only the runner, so the list has to be assembled
here, above every feature: the store imports no feature, and no feature imports another's
schema. ``open_store`` passes the list to ``Store``, which refuses to open a writable store
without one (an unmigrated file would fail later with an obscure missing-table error), so
every process — CLI, server, app, benchmarks, tests — migrates the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from goldenloop.agreement.schema import m008_agreement
from goldenloop.alerts.schema import m010_alerts
from goldenloop.anomalies.schema import m009_anomalies
from goldenloop.argilla_sync.schema import m014_argilla, m016_argilla_golden
from goldenloop.experiments.schema import m013_experiments
from goldenloop.golden.schema import m007_golden
from goldenloop.ingest.schema import m011_import_hardening
from goldenloop.judge.schema import m006_judge
from goldenloop.ops.schema import m015_operations
from goldenloop.review.schema import m002_review, m005_review_workbench
from goldenloop.store import migrations as runner
from goldenloop.store.migrations import Migration
from goldenloop.store.schema_core import m001_traces, m003_operations, m004_moderation_signals
from goldenloop.store.schema_trust import m012_trusted_figures
from goldenloop.store.store import Store

MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "traces", m001_traces),
    (2, "review", m002_review),
    (3, "operations", m003_operations),
    (4, "moderation_signals", m004_moderation_signals),
    (5, "review_workbench", m005_review_workbench),
    (6, "judge", m006_judge),
    (7, "golden", m007_golden),
    (8, "agreement", m008_agreement),
    (9, "anomalies", m009_anomalies),
    (10, "alerts", m010_alerts),
    (11, "import_hardening", m011_import_hardening),
    (12, "trusted_figures", m012_trusted_figures),
    (13, "experiments", m013_experiments),
    (14, "argilla", m014_argilla),
    (15, "operations_2", m015_operations),
    (16, "argilla_golden", m016_argilla_golden),
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
