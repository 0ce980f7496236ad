"""The Audit and Operations pages, run in-process over a real database: leads only, the
filters select entries, an erasure shows as a hash, and a failed inbox file is retried."""

from __future__ import annotations

from pathlib import Path

from app_support import app_db, app_page  # noqa: F401  (app_db is a fixture)

from goldenloop.config import Paths
from goldenloop.schema import open_store
from goldenloop.store import audit

HIDDEN = "zed-secret-id"


def _setup(db: Path) -> None:
    with open_store(db) as s:
        s.write(lambda cur: audit.record(cur, "ana", "grade.submit", "queue_item:1", {}, "app"))
        s.write(lambda cur: audit.record(cur, "lead", "forget", "erasure:abc",
                                         {"subject_hash": audit.subject_hash(HIDDEN)}, "cli"))
    (db.parent / "roles.yaml").write_text("leads: [lead]\nreviewers: [ana]\n")


def _frame_text(at) -> str:
    return " ".join(df.value.to_string() for df in at.dataframe)


def test_audit_page_is_for_leads_and_filters(app_db: Path) -> None:  # noqa: F811
    _setup(app_db)
    at = app_page("audit", params={"reviewer": "ana"})
    assert not at.dataframe and "for leads" in at.info[0].value
    at = app_page("audit", params={"reviewer": "lead"})
    text = _frame_text(at)
    assert "grade.submit" in text and "forget" in text and HIDDEN not in text
    at.text_input[1].input("forget").run()
    text = _frame_text(at)
    assert "forget" in text and "grade.submit" not in text
    at.selectbox[0].select("app").run()
    assert not at.dataframe and "No audit entries" in at.info[0].value


def test_operations_page_shows_health_and_retries_a_failed_file(app_db: Path) -> None:  # noqa: F811
    _setup(app_db)
    paths = Paths(app_db).ensure()
    (paths.inbox_failed / "calls.csv").write_text("a,b\n")
    (paths.inbox_failed / "calls.csv.reason.txt").write_text("row 2, field time: missing\n")
    at = app_page("operations", params={"reviewer": "lead"})
    assert "Healthy" in at.success[0].value
    assert [m.label for m in at.metric][:2] == ["Database", "Write-ahead log"]
    assert "field time: missing" in _frame_text(at)
    at.button(key="ops_retry").click().run()
    assert not at.exception
    assert (paths.inbox / "calls.csv").is_file() and not (paths.inbox_failed / "calls.csv").exists()
    assert "No failed inbox files." in [i.value for i in at.info]
