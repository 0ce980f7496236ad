"""The Golden sets page in-process with AppTest over a real demo database: leads only, the
empty state, a preview that matches the library's, and saving a version."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
from app_support import app_page
from review_support import demo_template  # noqa: F401  (fixture)
from streamlit.testing.v1 import AppTest

from goldenloop import golden
from goldenloop.schema import open_store


def page(reviewer: str | None = "ana") -> AppTest:
    return app_page("golden", params={"reviewer": reviewer} if reviewer else None)


def infos(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in at.info)


def test_leads_only(app_db, demo_template):  # noqa: F811
    shutil.copy(demo_template, app_db)
    (app_db.parent / "roles.yaml").write_text("leads: [ana]\nreviewers: [ben]\n")
    assert "built and exported by leads" in infos(page("ben"))
    assert "built and exported by leads" in infos(page(None))
    assert "built and exported by leads" not in infos(page("ana"))


def test_empty_store_says_what_to_do(app_db):
    open_store(app_db).close()
    assert "Nothing is graded yet" in infos(page())


def test_preview_matches_the_library_and_saving_makes_a_version(app_db, demo_template):  # noqa: F811
    shutil.copy(demo_template, app_db)
    with open_store(app_db) as s:  # before the app opens the file in this process
        want = golden.preview(s, golden.GoldenFilter())
    at = page()
    at.button(key="FormSubmitter:gs_filter_form-Preview").click().run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows"] == f"{want.counts['included']:,}"
    assert metrics["Graded targets considered"] == f"{want.counts['considered']:,}"
    assert metrics["No acceptable expected output"] == (
        f"{want.counts['left_out'].get('no acceptable expected output', 0):,}")
    at.multiselect(key="gs_formats").set_value(["jsonl", "parquet"]).run()
    next(b for b in at.button if b.label == "Save version and export").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Saved correctness-golden version 1" in str(s.value) for s in at.success)
    folder = app_db.parent / "exports" / "correctness-golden" / "v1"
    assert pq.read_table(folder / "golden.parquet").num_rows == want.counts["included"]
    card = (folder / "README.md").read_text()
    assert "\n".join(str(c.value) for c in at.code).strip() == card.strip()  # on the page
    assert f"rows: {want.counts['included']:,}" in card and "author: `ana`" in card
