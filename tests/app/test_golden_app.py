"""The Golden sets page in-process with AppTest over a real demo database: leads only, the
empty state, a preview that matches the library's, and saving a version."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
from app_support import app_page
from review_support import demo_template  # noqa: F401  (fixture)
from streamlit.testing.v1 import AppTest

from goldenloop import golden
from goldenloop.golden.curation import Condition
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
    assert any("Saved version 1" in str(s.value) for s in at.success)
    assert any("Saved correctness-golden version 1" in str(t.value) for t in at.text)
    folder = app_db.parent / "exports" / "correctness-golden" / "v1"
    assert pq.read_table(folder / "golden.parquet").num_rows == want.counts["included"]
    card = (folder / "README.md").read_text()
    assert "\n".join(str(c.value) for c in at.code).strip() == card.strip()  # on the page
    assert f"rows: {want.counts['included']:,}" in card and "author: `ana`" in card


def test_curated_set_with_conditions_evidence_dedupe_split_and_an_exclusion(app_db,
                                                                           demo_template):  # noqa: F811
    shutil.copy(demo_template, app_db)
    conditions = (Condition("tone", without=("too casual",), not_flagged=True),)
    want_f = golden.GoldenFilter(conditions=conditions, min_agreeing=1, dedupe=True,
                                 split=(80, 10, 10), split_seed=5)
    with open_store(app_db) as s:
        want = golden.preview(s, want_f)
        everything = golden.preview(s, golden.GoldenFilter()).counts["included"]
    assert 0 < want.counts["included"] < everything
    at = page()
    at.multiselect(key="gs_also").set_value(["tone"]).run()
    at.multiselect(key="gs_also_not_tone").set_value(["too casual"]).run()
    at.checkbox(key="gs_also_flag_tone").check().run()
    at.number_input(key="gs_min_agreeing").set_value(1)
    at.checkbox(key="gs_dedupe").check()
    at.checkbox(key="gs_split").check()
    at.button(key="FormSubmitter:gs_filter_form-Preview").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at.number_input(key="gs_seed").set_value(5)
    at.button(key="FormSubmitter:gs_filter_form-Preview").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows"] == f"{want.counts['included']:,}"
    first = at.selectbox(key="gs_ex_row").options[0]
    at.selectbox(key="gs_ex_row").set_value(first)
    at.text_input(key="gs_ex_reason").set_value("answer quotes an internal ticket").run()
    next(b for b in at.button if b.label == "Exclude").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at.multiselect(key="gs_formats").set_value(["jsonl"]).run()
    next(b for b in at.button if b.label == "Save version and export").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with open_store(app_db) as s:
        v = golden.get_version(s, "correctness-golden")
    assert v.filter.conditions == conditions and v.filter.split == (0.8, 0.1, 0.1)
    assert v.filter.split_seed == 5 and v.filter.dedupe and v.filter.min_agreeing == 1
    assert v.rows == want.counts["included"] - 1
    assert v.counts["exclusions"][0]["reason"] == "answer quotes an internal ticket"
    folder = app_db.parent / "exports" / "correctness-golden" / "v1"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "golden.jsonl"]
