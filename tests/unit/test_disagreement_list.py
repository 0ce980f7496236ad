"""The lead's disagreement list on the demo store: each row's gap is the distance between the
two grades (recomputed here from the grades table), filtering by the gap and sorting are
exact, every row carries the ids that open its trace, and a queue made of selected rows holds
those spans only."""

from __future__ import annotations

import pandas as pd
import pytest
from review_support import demo_store, demo_template  # noqa: F401

from goldenloop.agreement import criterion_report as pdata
from goldenloop.agreement import disagreements as dis


def _listed(store) -> pd.DataFrame:
    key = pdata.choices(store, "correctness").judges[0]
    return pdata.disagreement_list(store, pdata.PageFilter("correctness"), key)


def test_gap_ids_filter_and_order(demo_store) -> None:  # noqa: F811
    listed = _listed(demo_store)
    g = demo_store.df("""SELECT g.span_key, g.source, g.author_id, g.value_number, s.trace_id,
                                s.span_id
                         FROM grades g JOIN spans s USING (span_key)
                         WHERE g.criterion = 'correctness'""")
    h, j = g[g.source == "human"], g[g.source == "judge"]
    m = h.merge(j, on=["span_key", "trace_id", "span_id"], suffixes=("_h", "_j"))
    m = m[m.value_number_h != m.value_number_j]
    want = {(k, a): abs(x - y) for k, a, x, y in zip(m.span_key, m.author_id_h, m.value_number_h,
                                                    m.value_number_j, strict=True)}
    got = {(k, a): gap for k, a, gap in zip(listed.span_key, listed.reviewer, listed.gap,
                                            strict=True)}
    assert got == pytest.approx(want) and len(got) > 10
    assert set(listed.gap) > {1.0}  # the demo has wider gaps too: the filter has work to do
    ids = dict(zip(m.span_key, zip(m.trace_id, m.span_id, strict=True), strict=True))
    assert all(ids[k] == (t, s) for k, t, s in zip(listed.span_key, listed.trace_id,
                                                   listed.span_id, strict=True))
    assert (listed.criterion == "correctness").all()

    wide = dis.arrange(listed, min_gap=2, order="largest gap")
    assert len(wide) == sum(v >= 2 for v in want.values()) > 0
    assert wide.gap.is_monotonic_decreasing and list(wide.index) == list(range(len(wide)))
    newest = dis.arrange(listed, order="newest")
    assert newest.start_time.is_monotonic_decreasing and len(newest) == len(listed)
    assert dis.arrange(listed, order="oldest").start_time.is_monotonic_increasing
    with pytest.raises(ValueError, match="order by one of"):
        dis.arrange(listed, order="random")


def test_nominal_gap_is_one_and_interval_gap_the_difference() -> None:
    from goldenloop.agreement.scale import Scale

    pairs = pd.DataFrame({"human": ["a", "b", "c"], "judge": ["c", "b", "a"]})
    out = dis.disagreements(Scale("nominal", ("a", "b", "c")), pairs)
    assert list(out.gap) == [1.0, 1.0]
    nums = pd.DataFrame({"human": [1.0, 2.5, 4.0], "judge": [3.0, 2.5, 3.5]})
    out = dis.disagreements(Scale("interval"), nums, tolerance=0.4)
    assert list(out.gap) == [2.0, 0.5]


def test_queue_of_selected_rows_only(demo_store) -> None:  # noqa: F811
    listed = dis.arrange(_listed(demo_store), order="largest gap")
    picked = listed.iloc[[0, 2, 3]]
    queue, others = dis.adjudication_queue(demo_store, picked, name="settle", created_by="lead",
                                           rubric="default")
    keys = demo_store.df("SELECT span_key FROM queue_items WHERE queue_id = ?",
                         [queue.queue_id]).span_key
    assert sorted(keys) == sorted(set(picked.span_key.astype(int))) and others == 0
    assert queue.items == len(set(picked.span_key)) < len(listed)
