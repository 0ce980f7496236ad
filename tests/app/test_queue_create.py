"""Creating a queue on the Queues page (AppTest over a real demo database): the preview states
the frame size and the expected sample per stratum before anything is written, a fixed-size
queue holds exactly the sample size, and the new queue is the one selected afterwards."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from app_support import app_page
from review_support import demo_template, opts  # noqa: F401  (fixture)

from goldenloop import sampling
from goldenloop.schema import open_store


@pytest.fixture
def demo_db(app_db: Path, demo_template: Path) -> Path:  # noqa: F811
    shutil.copy(demo_template, app_db)
    return app_db


def captions(at) -> str:
    return "\n".join(str(c.value) for c in at.caption)


def test_preview_then_fixed_size_queue_is_selected(demo_db: Path) -> None:
    with open_store(demo_db) as s:  # an older queue: the new one must not be first by chance
        sampling.create_queue(s, opts("older", by="ana"), sampling.make_frame(), sampling.Uniform(5), seed=1)
        expected = sampling.preview_queue(s, sampling.make_frame(start=None),
                                          sampling.Stratified(20))
    at = app_page("queues", params={"reviewer": "ana"})
    at.radio(key="gl_design").set_value("Stratified").run()
    at.select_slider[0].set_value(0).run()  # all data: the same frame as the preview above
    at.number_input(key="gl_queue_n").set_value(20).run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"Preview: {expected.population_size:,} spans in the frame; about 20.0 drawn" \
        in captions(at)
    table = next(d.value for d in at.dataframe if "min_prob" in d.value.columns)
    assert table["units"].sum() == expected.population_size
    assert table["expected"].sum() == pytest.approx(20)
    assert list(table["stratum"]) == list(expected.strata["stratum"])
    examples = next(d.value for d in at.dataframe if "input" in d.value.columns)
    assert len(examples) == 5 and {"span_key", "output"} <= set(examples.columns)

    at.toggle(key="gl_fixed_size").set_value(True).run()
    assert "exactly 20.0 drawn" in captions(at)
    at.text_input(key="gl_queue_name").input("exact")
    at.button(key="gl_create").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with open_store(demo_db) as s:
        qid, items, design = s.rows(
            "SELECT q.queue_id, count(i.queue_item_id), any_value(q.design) FROM queues q "
            "JOIN queue_items i USING (queue_id) WHERE q.name = 'exact' GROUP BY q.queue_id")[0]
    assert items == 20 and "systematic" in str(design)
    assert at.selectbox(key="queue").value == qid != 1
    assert at.query_params["queue"] == str(qid)  # the URL names the new queue
    # A link with that id opens the page on that queue.
    again = app_page("queues", params={"reviewer": "ana", "queue": str(qid)})
    assert again.selectbox(key="queue").value == qid
    assert f"Queue {qid} created with 20 items" in "\n".join(str(e.value) for e in at.success)


def test_the_lead_chooses_the_criteria_a_queue_asks(demo_db: Path) -> None:
    at = app_page("queues", params={"reviewer": "ana"})
    chosen = at.multiselect(key="gl_queue_criteria_default")
    assert chosen.value == ["correctness", "tone", "conciseness", "safety", "note"]
    assert "note (optional)" in chosen.options  # the rubric says which are optional
    chosen.set_value(["safety", "correctness"]).run()
    at.radio(key="gl_design").set_value("Uniform").run()
    at.text_input(key="gl_queue_name").input("two criteria")
    at.button(key="gl_create").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with open_store(demo_db) as s:
        asked = s.scalar("SELECT criteria FROM queues WHERE name = 'two criteria'")
    assert asked == ["correctness", "safety"]  # the rubric's order
    # Leaving none is refused with a message, and nothing is created.
    at.multiselect(key="gl_queue_criteria_default").set_value([]).run()
    at.text_input(key="gl_queue_name").input("no criteria")
    at.button(key="gl_create").click().run()
    assert any("at least one criterion" in str(e.value) for e in at.error)
    with open_store(demo_db) as s:
        assert s.scalar("SELECT count(*) FROM queues WHERE name = 'no criteria'") == 0
