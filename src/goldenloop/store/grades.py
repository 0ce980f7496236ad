"""SQL that writes grades and rubric criteria in bulk, from Arrow tables.

Grades are append-only (DESIGN.md): a bulk insert adds rows, each with a fresh ``grade_id``
from ``grade_seq``. Span targets are joined by ``span_key``; a table that names spans by
``(trace_id, span_id)`` instead has the key resolved here, and a span target without a
``target_id`` gets the span key as its id.

Imports of existing grades (``goldenloop.ingest.grade_tables``) write through the functions
below the marker: quarantine of bad values, items and comparisons for targets that are not
spans, criteria of the import's rubric, and grades (source ``imported``) that are not added
again when the same author's same value on the same target is already stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

if TYPE_CHECKING:  # pandas loads in about half a second: only for frames
    import pandas as pd

GRADE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("target_type", "VARCHAR"),
    ("target_id", "VARCHAR"),
    ("span_key", "BIGINT"),
    ("criterion", "VARCHAR"),
    ("value_number", "DOUBLE"),
    ("value_label", "VARCHAR"),
    ("value_labels", "VARCHAR[]"),
    ("value_text", "VARCHAR"),
    ("not_applicable", "BOOLEAN"),
    ("flagged", "BOOLEAN"),
    ("source", "VARCHAR"),
    ("author_kind", "VARCHAR"),
    ("author_id", "VARCHAR"),
    ("judge_name", "VARCHAR"),
    ("judge_model", "VARCHAR"),
    ("judge_version", "VARCHAR"),
    ("rubric_name", "VARCHAR"),
    ("rubric_version", "VARCHAR"),
    ("queue_id", "BIGINT"),
    ("queue_item_id", "BIGINT"),
    ("is_gold", "BOOLEAN"),
    ("is_adjudication", "BOOLEAN"),
    ("comment", "VARCHAR"),
    ("raw", "JSON"),
    ("created_at", "TIMESTAMP"),
    ("supersedes", "BIGINT"),
)
_BOOL_DEFAULTS = ("not_applicable", "flagged", "is_gold", "is_adjudication")

CRITERIA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("rubric_name", "VARCHAR"),
    ("rubric_version", "VARCHAR"),
    ("name", "VARCHAR"),
    ("value_type", "VARCHAR"),
    ("min_value", "DOUBLE"),
    ("max_value", "DOUBLE"),
    ("labels", "VARCHAR[]"),
    ("label_descriptions", "JSON"),
    ("higher_is_better", "BOOLEAN"),
    ("multi_select", "BOOLEAN"),
    ("instructions", "VARCHAR"),
    ("created_at", "TIMESTAMP"),
)


def _select_list(columns: tuple[tuple[str, str], ...], present: set[str], alias: str,
                 overrides: dict[str, str] | None = None) -> str:
    overrides = overrides or {}
    out = []
    for name, typ in columns:
        if name in overrides:
            out.append(f"{overrides[name]} AS {name}")
        elif name in present:
            out.append(f"CAST({alias}.{name} AS {typ}) AS {name}")
        else:
            out.append(f"CAST(NULL AS {typ}) AS {name}")
    return ", ".join(out)


# What makes a stored grade the same grade as a new row (``insert_grades`` skips such a row):
# the target, the criterion, who graded (source, author, and for a judge its name, model and
# version), under which rubric version, when, and the value. Two judge versions sharing an
# author id and a timestamp, or one author's two different values, are two grades.
_SAME_GRADE = ("target_type", "target_id", "criterion", "source", "author_kind", "author_id",
               "judge_name", "judge_model", "judge_version", "rubric_name", "rubric_version",
               "created_at", "value_number", "value_label", "value_labels", "value_text",
               "not_applicable")


def insert_grades(cur: duckdb.DuckDBPyConnection, table: pa.Table, *,
                  skip_existing: bool = True) -> int:
    """Insert grade rows from ``table``; return how many were added.

    Columns are any of ``GRADE_COLUMNS``, plus ``trace_id``/``span_id`` to name span targets.
    With ``skip_existing``, a row equal to a stored grade on every field of ``_SAME_GRADE``
    (target, criterion, source, author, judge name, model and version, rubric name and
    version, created time and value) is skipped, so loading the same grades twice adds
    nothing while grades that differ in any of those are all kept.
    Grade ids follow the table's row order.
    """
    if table.num_rows == 0:
        return 0
    present = set(table.column_names)
    name = f"_grades_in_{id(table)}"
    cur.register(name, table.append_column("_ord", pa.array(range(table.num_rows), pa.int64())))
    try:
        overrides = {}
        join = ""
        if {"trace_id", "span_id"} <= present:
            join = "LEFT JOIN spans s ON s.trace_id = g.trace_id AND s.span_id = g.span_id"
            key = "coalesce(CAST(g.span_key AS BIGINT), s.span_key)" if "span_key" in present \
                else "s.span_key"
            overrides["span_key"] = key
        key_expr = overrides.get("span_key", "CAST(g.span_key AS BIGINT)" if "span_key" in present
                                 else "CAST(NULL AS BIGINT)")
        target_type = "coalesce(CAST(g.target_type AS VARCHAR), 'span')" \
            if "target_type" in present else "'span'"
        overrides["target_type"] = target_type
        target_id = "CAST(g.target_id AS VARCHAR)" if "target_id" in present else "NULL"
        overrides["target_id"] = (
            f"coalesce({target_id}, CASE WHEN {target_type} = 'span' "
            f"THEN CAST({key_expr} AS VARCHAR) END)"
        )
        for b in _BOOL_DEFAULTS:
            overrides[b] = f"coalesce(CAST(g.{b} AS BOOLEAN), false)" if b in present else "false"
        if "created_at" not in present:
            overrides["created_at"] = "now()::TIMESTAMP"
        src = f"SELECT g._ord, {_select_list(GRADE_COLUMNS, present, 'g', overrides)} " \
              f"FROM {name} g {join}"
        where = ""
        if skip_existing:
            same = " AND ".join(f"o.{k} IS NOT DISTINCT FROM n.{k}" for k in _SAME_GRADE[2:])
            where = f"""WHERE NOT EXISTS (
                SELECT 1 FROM grades o
                WHERE o.target_type = n.target_type AND o.target_id = n.target_id
                  AND {same})"""
        cols = ", ".join(c for c, _ in GRADE_COLUMNS)
        # Ids come from one block of the sequence (writes hold the lock), numbered by row order.
        cur.execute(
            f"""INSERT INTO grades (grade_id, {cols})
                SELECT min(_nv) OVER () + _rn - 1, {cols}
                FROM (SELECT nextval('grade_seq') AS _nv,
                             row_number() OVER (ORDER BY _ord) AS _rn, *
                      FROM ({src}) n {where})"""
        )
        return int(cur.fetchone()[0])
    finally:
        cur.unregister(name)


def insert_criteria(cur: duckdb.DuckDBPyConnection, table: pa.Table) -> int:
    """Insert rubric criteria rows; a (rubric_name, rubric_version, name) already stored is kept
    as it is (a rubric version is immutable). Returns how many were added."""
    if table.num_rows == 0:
        return 0
    present = set(table.column_names)
    name = f"_criteria_in_{id(table)}"
    cur.register(name, table)
    try:
        overrides = {} if "created_at" in present else {"created_at": "now()::TIMESTAMP"}
        if "multi_select" not in present:
            overrides["multi_select"] = "false"
        cols = ", ".join(c for c, _ in CRITERIA_COLUMNS)
        cur.execute(
            f"""INSERT INTO criteria ({cols})
                SELECT {cols} FROM (
                    SELECT {_select_list(CRITERIA_COLUMNS, present, 'c', overrides)} FROM {name} c
                ) n
                WHERE NOT EXISTS (SELECT 1 FROM criteria o
                                  WHERE o.rubric_name = n.rubric_name
                                    AND o.rubric_version = n.rubric_version
                                    AND o.name = n.name)"""
        )
        return int(cur.fetchone()[0])
    finally:
        cur.unregister(name)



# --- Imports of existing grades -------------------------------------------------------------
# These read ``_gv``, the checked values of one chunk of a grade file (see
# ``goldenloop.ingest.grade_values``), inside the import's transaction.

_GOOD = "target_error IS NULL AND value_error IS NULL"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quarantine_grade_values(cur: duckdb.DuckDBPyConnection, relation: str, columns: list[str],
                            import_id: int, file: str) -> int:
    """Keep aside each row whose target is bad (once per row) and each bad value of a good
    row, with the row as read; return how many records were kept aside."""
    as_read = "to_json(struct_pack(" + ", ".join(
        f"{_q(c)} := s.{_q(c)}" for c in columns) + "))" if columns else "NULL"
    cur.execute(
        """CREATE OR REPLACE TEMP TABLE _gbad AS
            SELECT DISTINCT _row, target_field AS field, target_error AS reason
            FROM _gv WHERE target_error IS NOT NULL
            UNION ALL
            SELECT _row, field, value_error FROM _gv
            WHERE target_error IS NULL AND value_error IS NOT NULL""")
    cur.execute(
        f"""INSERT INTO quarantine
            SELECT ?, ?, b._row, b.field, b.reason,
                   to_json([{{'field': b.field, 'reason': b.reason}}]),
                   coalesce(s._raw, {as_read}), now()::TIMESTAMP
            FROM _gbad b LEFT JOIN {relation} s ON s._row = b._row""",
        [import_id, file])
    return int(cur.fetchone()[0])


def value_counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Usable values and empty cells (no value: no grade) among the good rows."""
    cur.execute(f"SELECT count(*) FILTER (WHERE NOT empty), count(*) FILTER (WHERE empty) "
                f"FROM _gv WHERE {_GOOD}")
    values, empty = cur.fetchone()
    return {"values": int(values), "empty": int(empty)}


def out_of_scale_counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Values outside the declared scale, per source field."""
    cur.execute("SELECT field, count(*) FROM _gv WHERE out_of_scale GROUP BY field ORDER BY field")
    return {f: int(n) for f, n in cur.fetchall()}


def insert_target_items(cur: duckdb.DuckDBPyConnection, spec) -> int:
    """Add an ``items`` row for each new item target (its first row's texts and metadata)."""
    cur.execute(
        f"""INSERT INTO items
            SELECT target_id, ?, arg_min(t_input, _row), arg_min(t_output, _row),
                   arg_min(t_reference, _row), arg_min(t_metadata, _row), now()::TIMESTAMP
            FROM _gv n
            WHERE {_GOOD} AND target_type = 'item'
              AND NOT EXISTS (SELECT 1 FROM items o WHERE o.item_id = n.target_id)
            GROUP BY target_id""", [spec.dataset])
    return int(cur.fetchone()[0])


def insert_target_comparisons(cur: duckdb.DuckDBPyConnection, spec) -> int:
    """Add a ``comparisons`` row for each new comparison target: its input and two outputs
    given inline (type ``text``), A first as stored, and the dataset in its metadata."""
    cur.execute(
        f"""INSERT INTO comparisons
            SELECT target_id, arg_min(t_input, _row), 'text', NULL, arg_min(t_a_output, _row),
                   'text', NULL, arg_min(t_b_output, _row), 'AB',
                   json_merge_patch(coalesce(arg_min(t_metadata, _row), '{{}}'::JSON),
                                    json_object('dataset', ?)),
                   now()::TIMESTAMP
            FROM _gv n
            WHERE {_GOOD} AND target_type = 'comparison'
              AND NOT EXISTS (SELECT 1 FROM comparisons o WHERE o.comparison_id = n.target_id)
            GROUP BY target_id""", [spec.dataset])
    return int(cur.fetchone()[0])


def define_criteria(cur: duckdb.DuckDBPyConnection, rubric_name: str, rubric_version: str,
                    scale: dict) -> int:
    """Define each criterion graded in the chunk under the import's rubric and scale."""
    cur.execute(f"SELECT DISTINCT criterion FROM _gv WHERE {_GOOD} ORDER BY criterion")
    names = [r[0] for r in cur.fetchall()]
    n = len(names)
    labels = scale.get("labels")
    table = pa.table({
        "rubric_name": [rubric_name] * n, "rubric_version": [rubric_version] * n,
        "name": names, "value_type": [scale["type"]] * n,
        "min_value": pa.array([scale.get("min")] * n, pa.float64()),
        "max_value": pa.array([scale.get("max")] * n, pa.float64()),
        "labels": pa.array([labels] * n, pa.list_(pa.string())),
        "higher_is_better": pa.array([scale.get("higher_is_better")] * n, pa.bool_()),
        "instructions": ["imported with a grade mapping"] * n,
    })
    return insert_criteria(cur, table)


_IMPORT_KEY = ("target_type", "target_id", "criterion", "rubric_name", "rubric_version",
               "source", "author_kind", "author_id", "judge_name", "judge_version",
               "value_number", "value_label", "raw_text")


def insert_imported_grades(cur: duckdb.DuckDBPyConnection, rubric_name: str,
                           rubric_version: str) -> tuple[int, int]:
    """Insert the chunk's usable values as grades (source ``imported``); return (added,
    repeated). A value equal to one already stored, or repeated in the file, by the same
    author on the same target and criterion is not added again."""
    same = " AND ".join(f"o.{k} IS NOT DISTINCT FROM n.{k}" for k in _IMPORT_KEY)
    cur.execute(f"SELECT count(*) FROM _gv WHERE {_GOOD} AND NOT empty")
    usable = int(cur.fetchone()[0])
    cur.execute(
        f"""INSERT INTO grades (grade_id, target_type, target_id, span_key, criterion,
                                value_number, value_label, source, author_kind, author_id,
                                judge_name, judge_model, judge_version, rubric_name,
                                rubric_version, comment, raw, created_at)
            SELECT nextval('grade_seq'), target_type, target_id, span_key, criterion,
                   value_number, value_label, source, author_kind, author_id, judge_name,
                   judge_model, judge_version, rubric_name, rubric_version, comment,
                   raw_text::JSON, created_at
            FROM (
                SELECT DISTINCT ON ({', '.join(_IMPORT_KEY)}) *
                FROM (SELECT target_type, target_id, span_key, criterion, value_number,
                             value_label, 'imported' AS source, author_kind, author_id,
                             judge_name, judge_model, judge_version,
                             ? AS rubric_name, ? AS rubric_version, comment,
                             CAST(raw_json AS VARCHAR) AS raw_text,
                             coalesce(graded_at, now()::TIMESTAMP) AS created_at, _row
                      FROM _gv WHERE {_GOOD} AND NOT empty) n
                WHERE NOT EXISTS (
                    SELECT 1 FROM (SELECT *, CAST(raw AS VARCHAR) AS raw_text FROM grades
                                   WHERE source = 'imported') o
                    WHERE {same})
                ORDER BY _row
            )""", [rubric_name, rubric_version])
    added = int(cur.fetchone()[0])
    return added, usable - added


def out_of_scale_values(store, criterion: str, rubric_name: str | None = None) -> pd.DataFrame:
    """Grades whose value was outside the declared scale at import: ``grade_id`` and the value
    as read (``original``), whichever way the import treated it."""
    return store.df(
        """SELECT grade_id, TRY_CAST(raw ->> 'value' AS DOUBLE) AS original,
                  raw ->> 'value' AS original_label
           FROM live_grades
           WHERE criterion = $criterion AND ($rubric IS NULL OR rubric_name = $rubric)
             AND source = 'imported' AND CAST(raw ->> 'out_of_scale' AS BOOLEAN)""",
        {"criterion": criterion, "rubric": rubric_name})


def item_groups(store, key: str) -> pd.DataFrame:
    """``item_id`` and the value of one metadata key (e.g. the generator of a story)."""
    return store.df("SELECT item_id, metadata ->> $key AS grp FROM items "
                    "WHERE metadata ->> $key IS NOT NULL", {"key": key})
