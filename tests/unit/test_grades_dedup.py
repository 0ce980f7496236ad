"""insert_grades skips only a grade already stored on every field that makes it distinct."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest

from goldenloop.store.grades import insert_grades

WHEN = datetime(2026, 3, 1, 12, 0)


def _grade(**over) -> dict:
    row = {"target_type": "item", "target_id": "q1", "criterion": "correctness",
           "value_number": 4.0, "source": "judge", "author_kind": "judge",
           "author_id": "grader", "judge_name": "correctness", "judge_version": "v1",
           "rubric_name": "default", "rubric_version": "r1", "created_at": WHEN}
    row.update(over)
    return row


def _insert(store, rows: list[dict]) -> int:
    table = pa.Table.from_pylist(rows).set_column(
        list(rows[0]).index("created_at"), "created_at",
        pa.array([r["created_at"] for r in rows], pa.timestamp("us")))
    return store.write(insert_grades, table)


@pytest.mark.parametrize("field, other", [
    ("judge_version", "v2"), ("judge_name", "faithfulness"), ("rubric_version", "r2"),
    ("rubric_name", "strict"), ("value_number", 2.0)])
def test_grade_differing_in_one_field_is_kept(store, field, other):
    assert _insert(store, [_grade()]) == 1
    assert _insert(store, [_grade(**{field: other})]) == 1
    got = store.rows(f"SELECT {field} FROM grades ORDER BY grade_id")
    assert [g for (g,) in got] == [_grade()[field], other]


def test_two_judge_versions_in_one_table_both_land_and_reload_adds_nothing(store):
    rows = [_grade(judge_version="v1", value_number=4.0),
            _grade(judge_version="v2", value_number=4.0),
            _grade(judge_version="v2", target_id="q2", value_label="pass", value_number=None)]
    assert _insert(store, rows) == 3
    # Loading the same grades again (the demo and imports are re-run) adds nothing.
    assert _insert(store, rows) == 0
    assert store.scalar("SELECT count(*) FROM grades") == 3
    assert store.rows("SELECT DISTINCT judge_version FROM grades ORDER BY 1") == [("v1",), ("v2",)]


def test_same_grade_at_another_time_is_a_new_grade(store):
    assert _insert(store, [_grade()]) == 1
    assert _insert(store, [_grade(created_at=datetime(2026, 3, 2))]) == 1
    assert _insert(store, [_grade(created_at=datetime(2026, 3, 2))]) == 0
