"""Schema: a fresh database gets every table of the data model; an old one upgrades in place."""

from __future__ import annotations

import duckdb
import pytest

from goldenloop.errors import SchemaTooNewError
from goldenloop.schema import LATEST, MIGRATIONS, current_version, migrate, open_store
from goldenloop.store import Store
from goldenloop.store.span_columns import FIELD_NAMES

DATA_MODEL_TABLES = {
    "spans", "signals", "feedback", "criteria", "items", "comparisons", "grades", "corrections",
    "queues", "queue_items", "jobs", "audit_log", "import_log", "quarantine", "demo_incidents",
}


def _tables(store: Store) -> set[str]:
    return {t for (t,) in store.rows("SELECT table_name FROM information_schema.tables")}


def test_fresh_schema_has_the_whole_data_model(store):
    assert _tables(store) >= DATA_MODEL_TABLES
    assert store.schema_version == LATEST
    span_cols = [c for (c,) in store.rows(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'spans' "
        "ORDER BY ordinal_position")]
    assert set(FIELD_NAMES) <= set(span_cols)
    assert {"span_key", "ingested_at", "cost_estimated", "import_id"} <= set(span_cols)
    recorded = store.rows("SELECT version, name FROM schema_migrations ORDER BY version")
    assert recorded == [(v, n) for v, n, _ in MIGRATIONS]


def test_large_tables_have_no_key_constraints(store):
    n = store.scalar(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name IN ('spans', 'grades', "
        "'signals') AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')")
    assert n == 0


def test_upgrade_from_the_first_migration_keeps_data(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    assert migrate(con, target=1) == [1]
    assert current_version(con) == 1
    con.execute("INSERT INTO spans (span_key, trace_id, span_id, start_time) "
                "VALUES (nextval('span_key_seq'), 't', 's', TIMESTAMP '2025-01-01 00:00:00')")
    con.close()

    with open_store(path) as s:
        assert s.schema_version == LATEST
        assert _tables(s) >= DATA_MODEL_TABLES
        assert s.rows("SELECT trace_id, span_id FROM spans") == [("t", "s")]
        # The sequence survives the upgrade, so new keys never collide with old ones.
        assert s.scalar("SELECT nextval('span_key_seq')") == 2


def test_migrating_twice_applies_nothing(store):
    assert migrate(store.cursor()) == []


def test_a_newer_database_is_refused(tmp_path):
    path = tmp_path / "new.duckdb"
    with open_store(path) as s:
        s.cursor().execute("INSERT INTO schema_migrations VALUES (?, 'future', now())",
                           [LATEST + 1])
    with pytest.raises(SchemaTooNewError, match="upgrade goldenloop"):
        open_store(path)
