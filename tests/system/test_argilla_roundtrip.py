"""The Argilla round trip against a real Argilla server (tests/argilla_server.py): push a
stratified queue, two annotators answer through Argilla's REST API as the web UI does, pull,
and goldenloop's estimate, agreement data and golden candidates are exactly those of the same
answers made on goldenloop's own Grade page (a twin database). Pulling again changes
nothing; a changed answer supersedes."""

from __future__ import annotations

import itertools
import shutil

import pytest
import review_support as rs
from argilla_support import change, records_of, respond, stratified_queue, submit_in_goldenloop

from goldenloop import argilla_sync, estimation
from goldenloop import golden as G
from goldenloop.agreement import sql as aq
from goldenloop.argilla_sync import push
from goldenloop.schema import open_store
from goldenloop.store import Store

pytest_plugins = ["argilla_server"]  # the server fixture (tests/argilla_server.py)
demo_template, demo_store = rs.demo_template, rs.demo_store
_names = itertools.count()


@pytest.fixture
def env(argilla_server, monkeypatch):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.owner_key)
    return argilla_server


@pytest.fixture
def twin(demo_template, tmp_path):
    """A second copy of the demo history: the same answers made in goldenloop."""
    path = tmp_path / "twin.duckdb"
    shutil.copy(demo_template, path)
    with open_store(path) as s:
        yield s


def _push(store, qid, **kw):
    return argilla_sync.push_queue(store, qid, pushed_by="lead", workspace="goldenloop",
                                   dataset=f"roundtrip-{next(_names)}-{id(store)}", **kw)


def _views(s: Store, qid: int) -> dict:
    """What the Queues estimate, the Agreement page and a golden build see of the queue."""
    at4 = estimation.estimate(s, qid, "correctness", at_least=4)
    mean = estimation.estimate(s, qid, "correctness")
    humans = aq.live_grades(s, "correctness")
    humans = humans[humans["side"] == "human"]
    return {
        "estimate": (at4.value, at4.se, at4.n_graded, at4.n_in_domain, at4.n_nonresponse),
        "mean": (mean.value, mean.n_graded),
        "agreement": sorted((r.author_id, float(r.value)) for r in humans.itertuples()),
        "golden": G.preview(s, G.GoldenFilter(source="human", queue_ids=(qid,)),
                            limit=0).counts["included"],
        "items": s.rows("SELECT queue_item_id, status, reviewers_done FROM queue_items "
                        "WHERE queue_id = ? ORDER BY 1", [qid]),
    }


def _table_counts(s: Store) -> tuple:
    return tuple(s.scalar(f"SELECT count(*) FROM {t}") for t in
                 ("grades", "corrections", "queue_claims", "argilla_pulls", "argilla_records"))


def test_round_trip_matches_grading_in_goldenloop(env, demo_store, twin):
    a, b = demo_store, twin
    qid = stratified_queue(a)
    assert stratified_queue(b) == qid
    items = [r[0] for r in a.rows("SELECT queue_item_id FROM queue_items WHERE queue_id = ? "
                                  "AND NOT is_gold ORDER BY position", [qid])]
    pushed = _push(a, qid)
    assert pushed.records == len(items) and pushed.new_records == len(items)
    again = argilla_sync.push_queue(a, qid, pushed_by="lead", workspace="goldenloop",
                                    dataset=pushed.dataset)
    assert (again.link_id, again.new_records) == (pushed.link_id, 0)
    did = a.scalar("SELECT argilla_dataset_id FROM argilla_datasets WHERE link_id = ?",
                   [pushed.link_id])
    with env.owner_client() as owner:
        in_argilla = owner.get(f"/api/v1/datasets/{did}/records", params={"limit": 1000}).json()
    assert len(in_argilla["items"]) == len(items)  # the second push updated, not duplicated

    i0, i1, i2 = (f"q{qid}-i{i}" for i in items[:3])
    plan = [("ana", i0, {**rs.FULL, "correctness": 5}, "submitted"),
            ("ben", i0, {**rs.FULL, "correctness": 2}, "submitted"),
            ("ana", i1, None, "discarded"),
            ("ben", i2, {**rs.FULL, "correctness": 3}, "draft")]
    responses = {}
    for who, ext, answers, status in plan:
        with env.annotator_client(who) as h:
            rec = records_of(h, did)[ext]
            responses[(who, ext)] = respond(h, rec["id"], answers, status)
        if status != "draft":  # the twin: the same answers on goldenloop's Grade page
            submit_in_goldenloop(b, int(ext.split("-i")[1]), who, answers)

    first = argilla_sync.pull(a, "lead")[0]
    assert (first.graded, first.discarded, first.drafts, first.set_aside) == (2, 1, 1, 0)
    got, want = _views(a, qid), _views(b, qid)
    assert got == want
    assert got["mean"] == (3.5, 1)  # (5 + 2) / 2 on the one graded item
    assert ("ana", 5.0) in got["agreement"] and ("ben", 2.0) in got["agreement"]
    pulled = a.df("SELECT author_id, source, rubric_version, created_at FROM live_grades "
                  "WHERE queue_id = ? AND criterion = 'correctness'", [qid])
    assert set(pulled["author_id"]) == {"ana", "ben"} and set(pulled["source"]) == {"human"}
    assert set(pulled["rubric_version"]) == {a.scalar("SELECT rubric_version FROM queues "
                                                      "WHERE queue_id = ?", [qid])}

    before = _table_counts(a)
    second = argilla_sync.pull(a, "lead")[0]
    assert (second.graded, second.discarded, second.unchanged) == (0, 0, 3)
    assert _table_counts(a) == before and _views(a, qid) == got

    with env.annotator_client("ana") as h:
        change(h, responses[("ana", i0)]["id"], {**rs.FULL, "correctness": 4})
    third = argilla_sync.pull(a, "lead")[0]
    assert (third.graded, third.superseded, third.unchanged) == (1, 1, 2)
    live = a.rows("SELECT value_number FROM live_grades WHERE queue_item_id = ? AND "
                  "author_id = 'ana' AND criterion = 'correctness'", [int(i0.split("-i")[1])])
    assert live == [(4.0,)]
    assert _views(a, qid)["mean"] == (3.0, 1)

    s = argilla_sync.status(a, qid)[0]
    assert (s.records, s.submitted, s.discarded, s.drafts) == (len(items), 2, 1, 1)
    assert (s.pulled_graded, s.pulled_discarded, s.set_aside, s.error) == (2, 1, 0, None)
    assert s.last_pull_at is not None


def test_errors_are_plain_and_write_nothing(env, demo_store, monkeypatch):
    qid = stratified_queue(demo_store, n=4)
    before = demo_store.scalar("SELECT count(*) FROM audit_log")
    cases = [("ARGILLA_API_KEY", "wrong-key", "authentication"),
             ("ARGILLA_API_URL", "http://127.0.0.1:9", "unreachable")]
    for var, value, words in cases:
        with monkeypatch.context() as m:
            m.setenv(var, value)
            with pytest.raises(argilla_sync.ArgillaSyncError, match=words):
                _push(demo_store, qid)
    with pytest.raises(argilla_sync.ArgillaSyncError, match="no workspace 'nowhere'"):
        argilla_sync.push_queue(demo_store, qid, pushed_by="lead", workspace="nowhere")
    monkeypatch.delenv("ARGILLA_API_KEY")
    with pytest.raises(argilla_sync.ArgillaSyncError, match="set the environment variable "
                                                            "ARGILLA_API_KEY"):
        _push(demo_store, qid)
    assert demo_store.scalar("SELECT count(*) FROM argilla_datasets") == 0
    assert demo_store.scalar("SELECT count(*) FROM audit_log") == before


def test_key_is_never_stored_and_status_names_an_unreachable_server(env, demo_store,
                                                                     monkeypatch):
    qid = stratified_queue(demo_store, n=4)
    _push(demo_store, qid)
    argilla_sync.pull(demo_store, "lead")
    for table in ("argilla_datasets", "argilla_records", "argilla_pulls", "audit_log"):
        text = demo_store.scalar(f"SELECT string_agg(CAST(t AS VARCHAR), ' ') FROM {table} t")
        assert env.owner_key not in (text or "")
    monkeypatch.setenv("ARGILLA_API_URL", "http://127.0.0.1:9")
    s = argilla_sync.status(demo_store)[0]
    assert s.records is None and "unreachable" in s.error


def test_judge_scores_become_suggestions_with_the_judge_as_agent(env, demo_store):
    qid = stratified_queue(demo_store, n=30)
    judged = demo_store.rows(
        """SELECT DISTINCT qi.queue_item_id FROM queue_items qi JOIN live_grades g
           ON g.span_key = qi.span_key WHERE qi.queue_id = ? AND g.source = 'judge'
           AND g.criterion = 'correctness'""", [qid])
    assert judged, "the demo sample should hold judged spans"
    pushed = _push(demo_store, qid, suggestions=True)
    assert pushed.suggestions >= len(judged)
    did = demo_store.scalar("SELECT argilla_dataset_id FROM argilla_datasets")
    with env.owner_client() as owner:
        recs = owner.get(f"/api/v1/datasets/{did}/records",
                         params={"include": ["suggestions"], "limit": 1000}).json()["items"]
    got = {r["external_id"]: r["suggestions"] for r in recs}
    first = got[f"q{qid}-i{judged[0][0]}"]
    mine = [x for x in first if x["value"] in (1, 2, 3, 4, 5)]
    want = demo_store.rows(
        """SELECT g.value_number, coalesce(g.judge_name, g.author_id), g.judge_version
           FROM queue_items qi JOIN live_grades g ON g.span_key = qi.span_key
           WHERE qi.queue_item_id = ? AND g.source = 'judge' AND g.criterion = 'correctness'
           ORDER BY g.created_at DESC LIMIT 1""", [judged[0][0]])[0]
    agent = push.agent_name(want[1], want[2])
    assert ":" in agent and any(x["value"] == round(want[0]) and x["agent"] == agent for x in mine)
