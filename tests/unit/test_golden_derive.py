"""A golden version derived from an earlier one after a review (``golden.derive``): the
earlier version's rows only, recomputed from the grades and corrections live now, with its
provenance; the earlier version unchanged; nothing new when nothing changed."""

from __future__ import annotations

import pytest
from review_support import FULL, opts, synthetic_spans

from goldenloop import golden as G
from goldenloop import review
from goldenloop.golden.derive import derive_in
from goldenloop.review.claims import claim_item
from goldenloop.sampling import Uniform, create_queue, make_frame

SPANS = 30


def _grade(store, item: int, who: str, correctness: int, correction: str | None = None):
    claim = store.write(claim_item, item, who, 600)
    review.submit(store, claim, {**FULL, "correctness": correctness}, correction=correction)


@pytest.mark.slow
def test_derive_keeps_the_rows_recomputes_them_and_records_provenance(store, tmp_path):
    synthetic_spans(store, SPANS, seed=8)
    qid = create_queue(store, opts("derive"), make_frame(), Uniform(6), seed=2).queue_id
    items = [i for (i,) in store.rows("SELECT queue_item_id FROM queue_items WHERE queue_id = ?"
                                      " AND NOT is_gold ORDER BY position", [qid])]
    n = len(items)
    for item in items[:-1]:
        _grade(store, item, "rita", 5)
    f = G.GoldenFilter(source="human", queue_ids=(qid,))
    v1 = G.build(store, "derive", f, "lead").version
    v1_rows = G.rows(store, v1)
    assert v1.rows == n - 1

    # after v1: the last item is graded (new traffic), and a row gets a corrected answer
    _grade(store, items[-1], "rita", 5)
    _grade(store, items[0], "sam", 4, correction="The right answer.")
    assert G.preview(store, f, limit=0).counts["included"] == n  # a rebuild would add it

    version_id, created, counts = store.write(
        lambda cur: derive_in(cur, v1, "lead", {"argilla_dataset": "d1", "responses": 1}))
    assert created
    v2 = G.get_version(store, "derive", 2)
    assert v2.version_id == version_id and v2.rows == n - 1  # v1's rows, no new one
    assert set(G.rows(store, v2)["row_key"]) == set(v1_rows["row_key"])
    assert counts["derived_from"] == {"version": 1, "content_hash": v1.content_hash,
                                      "without_grades": 0, "argilla_dataset": "d1",
                                      "responses": 1}
    assert v2.counts["derived_from"]["version"] == 1
    corrected = store.scalar("SELECT target_type || ':' || target_id FROM queue_items "
                             "WHERE queue_item_id = ?", [items[0]])
    assert list(G.diff(store, "derive", 1, 2).changed["row_key"]) == [corrected]
    row = G.rows(store, v2).set_index("row_key").loc[corrected]
    assert row["expected_output"] == "The right answer." and row["expected_source"] == "correction"
    assert G.rows(store, G.get_version(store, "derive", 1)).equals(v1_rows)  # v1 unchanged
    assert store.scalar("SELECT count(*) FROM audit_log WHERE action = 'golden.version'") == 2

    card = (G.export(store, "derive", tmp_path / "out", "lead", version=2).folder
            / "README.md").read_text()
    assert ("- derived from version 1 (`" + v1.content_hash[:12] + "`), reviewed in Argilla "
            "dataset `d1` (workspace ``): 1 responses") in card

    again, created_again, _ = store.write(lambda cur: derive_in(cur, v1, "lead", {}))
    assert (again, created_again) == (version_id, False)  # nothing changed: no version
    assert len(G.versions(store, "derive")) == 2
