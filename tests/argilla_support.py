"""Helpers of the Argilla tests: a stratified queue on the demo history, annotators acting
through Argilla's REST API (as the web UI does), and the same answers made in goldenloop."""

from __future__ import annotations

from typing import Any

import httpx
from review_support import FULL, opts, synthetic_spans

from goldenloop import golden, review
from goldenloop.review.claims import claim_item
from goldenloop.sampling import Stratified, Uniform, create_queue, make_frame
from goldenloop.store import Store


def stratified_queue(store: Store, n: int = 12, reviewers: int = 2) -> int:
    return create_queue(store, opts("argilla round trip", reviewers_per_item=reviewers),
                        make_frame(), Stratified(n), seed=3).queue_id


def values(answers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: {"value": v} for k, v in answers.items()}


def records_of(h: httpx.Client, dataset_id: str) -> dict[str, dict[str, Any]]:
    """The annotator's view: records by external id, with the annotator's responses."""
    r = h.post(f"/api/v1/me/datasets/{dataset_id}/records/search",
               params={"include": ["responses"], "limit": 1000}, json={})
    r.raise_for_status()
    return {i["record"]["external_id"]: i["record"] for i in r.json()["items"]}


def respond(h: httpx.Client, record_id: str, answers: dict[str, Any] | None,
            status: str) -> dict[str, Any]:
    """One response through the single-response endpoint (the web UI's Submit button)."""
    r = h.post(f"/api/v1/records/{record_id}/responses",
               json={"values": values(answers or {}), "status": status})
    assert r.status_code == 201, r.text
    return r.json()


def change(h: httpx.Client, response_id: str, answers: dict[str, Any]) -> None:
    r = h.put(f"/api/v1/responses/{response_id}",
              json={"values": values(answers), "status": "submitted"})
    assert r.status_code == 200, r.text


def submit_in_goldenloop(store: Store, item_id: int, who: str, answers: dict | None) -> None:
    """The same answer made on goldenloop's Grade page (None: the reviewer skipped)."""
    claim = store.write(claim_item, item_id, who, 600)
    if answers is None:
        review.skip(store, claim)
    else:
        review.submit(store, claim, answers)


def graded_golden(store: Store, spans: int, rows: int, name: str = "support") -> int:
    """A golden dataset's first version: ``rows`` items of a uniform sample of ``spans``
    synthetic spans, graded correct (5) on goldenloop's Grade page by reviewer rita. Returns
    the sampling queue's id (its items have inclusion probabilities)."""
    synthetic_spans(store, spans, seed=6)
    qid = create_queue(store, opts("golden source"), make_frame(), Uniform(rows), seed=1).queue_id
    items = [i for (i,) in store.rows("SELECT queue_item_id FROM queue_items WHERE queue_id = ? "
                                      "AND NOT is_gold ORDER BY position", [qid])]
    for item in items:
        submit_in_goldenloop(store, item, "rita", {**FULL, "correctness": 5})
    golden.build(store, name, golden.GoldenFilter(source="human", queue_ids=(qid,)), "lead")
    return qid
