"""The Queues page's Argilla panel in-process (AppTest) with the real test server: a lead
pushes the queue, an annotator submits in Argilla, the lead pulls, and the panel's table and
the queue's progress show the pulled grade; an unreachable server is one plain error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from app_support import app_page
from argilla_support import records_of, respond, stratified_queue
from review_support import FULL, demo_template  # noqa: F401  (fixture)

from goldenloop.argilla_sync import sql
from goldenloop.schema import open_store

pytest_plugins = ["argilla_server"]  # the server fixture (tests/argilla_server.py)


@pytest.fixture
def demo_db(app_db: Path, demo_template: Path) -> Path:  # noqa: F811
    shutil.copy(demo_template, app_db)
    return app_db


def texts(at) -> str:
    return "\n".join(str(e.value) for k in ("text", "error", "markdown") for e in at.get(k))


def test_lead_pushes_and_pulls_from_the_queues_page(argilla_server, demo_db, monkeypatch):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.owner_key)
    with open_store(demo_db) as s:
        qid = stratified_queue(s, n=6)
    at = app_page("queues", params={"reviewer": "lead", "queue": str(qid)})
    assert "Not pushed to Argilla" in texts(at)
    at.text_input(key="argilla_ws").input("goldenloop")
    at.button(key="argilla_push").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "records sent to goldenloop-q" in texts(at)
    at.run()  # the next run draws the table with the new link
    did = None
    for df in at.dataframe:
        if "dataset" in df.value.columns:
            did = df.value
    assert did is not None and did["graded"].tolist() == [0]

    with open_store(demo_db) as s:
        dataset_id = sql.links(s, qid)[0]["argilla_dataset_id"]
    with argilla_server.annotator_client("ana") as h:
        rec = next(iter(records_of(h, dataset_id).values()))
        respond(h, rec["id"], FULL, "submitted")
    at = app_page("queues", params={"reviewer": "lead", "queue": str(qid)})
    at.button(key="argilla_pull").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "1 graded, 0 discarded, 0 set aside" in texts(at)

    monkeypatch.setenv("ARGILLA_API_URL", "http://127.0.0.1:9")
    at.button(key="argilla_pull").click().run()
    assert "Argilla server unreachable" in texts(at)
