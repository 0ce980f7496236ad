"""Schema: a fresh database gets every table of the data model; an old one upgrades in place."""

from __future__ import annotations

import duckdb
import pytest

from goldenloop.errors import SchemaTooNewError
from goldenloop.schema import LATEST, MIGRATIONS, current_version, migrate, open_store
from goldenloop.store import Store
from goldenloop.store.span_columns import FIELD_NAMES, SPAN_FIELDS, STORE_COLUMNS

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


# -- migrations are history: a fresh schema equals one upgraded step by step ---------------------
def _schema(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Everything a migration can create, in a comparable form."""
    def rows(sql: str) -> list[tuple]:
        return sorted(con.execute(sql).fetchall(), key=repr)

    return {
        "columns": rows("SELECT table_name, column_name, ordinal_position, data_type, "
                        "column_default, is_nullable FROM information_schema.columns "
                        "WHERE table_schema = 'main'"),
        "views": rows("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal"),
        "indexes": rows("SELECT index_name, table_name, is_unique, sql FROM duckdb_indexes()"),
        # Not start_value: DuckDB reports the sequence's position there, and data moved it.
        "sequences": rows("SELECT sequence_name, increment_by, min_value, cycle FROM duckdb_sequences()"),
        "constraints": rows("SELECT table_name, constraint_type, constraint_text "
                            "FROM duckdb_constraints() WHERE constraint_type <> 'NOT NULL'"),
        "migrations": rows("SELECT version, name FROM schema_migrations"),
    }


@pytest.mark.slow
def test_a_fresh_schema_equals_one_upgraded_from_the_oldest(tmp_path):
    fresh = duckdb.connect(str(tmp_path / "fresh.duckdb"))
    assert migrate(fresh) == [v for v, _, _ in MIGRATIONS]
    # A user's database lives through every release: one version per opening, with data in it.
    old = tmp_path / "old.duckdb"
    for version, _, _ in MIGRATIONS:
        con = duckdb.connect(str(old))
        assert migrate(con, target=version) == [version]
        if version == 1:
            con.execute("INSERT INTO spans (span_key, trace_id, span_id) "
                        "VALUES (nextval('span_key_seq'), 't', 's')")
        con.close()
    upgraded = duckdb.connect(str(old))
    want, got = _schema(fresh), _schema(upgraded)
    assert want.keys() == got.keys()
    for part in want:
        assert got[part] == want[part], part
    assert want["columns"] and want["views"] and want["sequences"]
    assert upgraded.execute("SELECT trace_id, span_id FROM spans").fetchall() == [("t", "s")]


def test_every_span_field_has_its_column(store):
    # SPAN_FIELDS feeds validation and the spool writers; the table comes from migrations. A
    # field added there without a migration that adds its column fails here.
    types = dict(store.rows("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = 'spans'"))
    assert {f.name: types.get(f.name) for f in SPAN_FIELDS} == {f.name: f.sql_type for f in SPAN_FIELDS}
    assert {c: types.get(c) for c, _ in STORE_COLUMNS} == dict(STORE_COLUMNS)


def test_a_writable_store_without_the_migrations_is_refused(tmp_path):
    # The list is assembled above the features (goldenloop.schema); the store cannot know it.
    with pytest.raises(TypeError, match=r"goldenloop\.schema\.open_store"):
        Store(tmp_path / "bare.duckdb")
    assert not (tmp_path / "bare.duckdb").exists()
    open_store(tmp_path / "made.duckdb").close()
    with Store(tmp_path / "made.duckdb", read_only=True, migrate_schema=False) as s:  # a reader
        assert s.schema_version == LATEST
