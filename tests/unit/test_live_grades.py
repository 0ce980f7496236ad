"""One definition of a live grade: submitting, undoing, superseding and late grades move
every count the same way — Home's grade counts, Monitor's graded requests, the Queues
estimate, Agreement's pairs and the golden set's candidates."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from review_support import DEMO_END

from goldenloop import estimation, review
from goldenloop import golden as G
from goldenloop import metrics as M
from goldenloop import overview as summary
from goldenloop.agreement import sql as q
from goldenloop.demo.queue import NAME
from goldenloop.metrics import quality
from goldenloop.schema import open_store
from goldenloop.store import Store


@pytest.fixture(scope="module")
def demo_template(demo_files) -> Path:
    return demo_files.template(spans=5000, end=DEMO_END)  # shared with other modules: copy it


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path):
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_template, path)
    with open_store(path) as s:
        yield s, int(s.scalar("SELECT queue_id FROM queues WHERE name = ?", [NAME]))


def counts(s: Store, qid: int) -> dict[str, int]:
    """Each reader's count of human correctness grades (or what they grade)."""
    dims = M.dimensions(s)
    f = M.SpanFilter(start=dims.first, end=dims.last + timedelta(hours=1))
    by_source = summary.grades_by_source(s).set_index("source")["grades"]
    return {
        "home": int(by_source["human"]),
        "monitor": int(quality.correctness(s, f, sources=("human",))["n"].sum()),
        "queue estimate": estimation.estimate(s, qid, "correctness", at_least=4).n_in_domain,
        "agreement pairs": len(q.judge_human_pairs(s, "correctness")),
        "golden candidates": G.preview(s, G.GoldenFilter(source="human"),
                                       limit=0).counts["considered"],
    }


def value_of(s: Store, item: int, who: str) -> list[float]:
    return [v for (v,) in s.rows(
        "SELECT value_number FROM live_grades WHERE queue_item_id = ? AND author_id = ? "
        "AND criterion = 'correctness'", [item, who])]


def moved(before: dict, after: dict) -> dict[str, int]:
    return {k: after[k] - before[k] for k in before}


def answers(correctness: int) -> dict:
    """A whole submission: the demo rubric asks four criteria (Home counts every grade)."""
    return {"correctness": correctness, "tone": ["on-brand"], "conciseness": "concise",
            "safety": "safe"}


def times(n: int) -> dict[str, int]:
    """What n live submissions add: four grades on Home, one everywhere else."""
    return {"home": 4 * n, "monitor": n, "queue estimate": n, "agreement pairs": n,
            "golden candidates": n}


@pytest.mark.slow
def test_every_count_moves_together(demo):
    s, qid = demo
    base = counts(s, qid)

    ana = review.next_item(s, qid, "ana")  # a pending item: judged, no reviewer yet
    review.submit(s, ana, answers(5))
    assert moved(base, counts(s, qid)) == times(1)
    assert value_of(s, ana.queue_item_id, "ana") == [5.0]

    back = review.undo_last(s, qid, "ana")  # the undo takes the grade out everywhere
    assert back is not None and back.queue_item_id == ana.queue_item_id
    assert moved(base, counts(s, qid)) == times(0)
    assert value_of(s, ana.queue_item_id, "ana") == []

    review.submit(s, back, answers(2))
    review.submit(s, back, answers(3))  # again on the same item: supersedes, counts once
    assert moved(base, counts(s, qid)) == times(1)
    assert value_of(s, ana.queue_item_id, "ana") == [3.0]

    ben = review.next_item(s, qid, "ben")
    s.cursor().execute("UPDATE queue_items SET claim_expires_at = claim_expires_at - "
                       "INTERVAL 1 DAY WHERE queue_item_id = ?", [ben.queue_item_id])
    cat = review.next_item(s, qid, "cat")  # takes over the item ben walked away from
    assert cat.queue_item_id == ben.queue_item_id
    assert review.submit(s, ben, answers(4)).late  # ben's late grade counts once
    assert moved(base, counts(s, qid)) == times(2)
    # cat's grade on the same item: a second reviewer of one target. Home, the queue's
    # reviews and agreement's pairs count grades; Monitor, the estimate and golden count
    # graded requests, items and targets, which do not change.
    review.submit(s, cat, answers(4))
    got = moved(base, counts(s, qid))
    assert got == {**times(2), "home": 12, "agreement pairs": 3}
