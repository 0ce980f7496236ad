"""The Golden sets page's Argilla panel in-process (AppTest) with the real test server: a lead
pushes a version, an annotator corrects a row in Argilla, the lead pulls, and the panel says
the reviewed version was made and its table shows it; an unreachable server is one plain
error."""

from __future__ import annotations

import pytest
from app_support import app_page
from argilla_support import graded_golden, records_of, respond

from goldenloop import golden as G
from goldenloop.argilla_sync import settings as S
from goldenloop.argilla_sync import sql
from goldenloop.schema import open_store

pytest_plugins = ["argilla_server"]  # the server fixture (tests/argilla_server.py)


def texts(at) -> str:
    return "\n".join(str(e.value) for k in ("text", "error", "markdown") for e in at.get(k))


def _links_table(at):
    found = [df.value for df in at.dataframe if "pushed_version" in df.value.columns]
    return found[0] if found else None


@pytest.fixture
def env(argilla_server, monkeypatch):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.owner_key)
    return argilla_server


def test_lead_pushes_and_pulls_a_golden_version(env, app_db, monkeypatch):
    with open_store(app_db) as s:
        graded_golden(s, 30, 3)
        rows = G.get_version(s, "support", 1).rows
    at = app_page("golden", params={"reviewer": "lead"})
    assert "Not pushed to Argilla" in texts(at) and _links_table(at) is None
    at.text_input(key="gs_argilla_ws").input("goldenloop")
    at.button(key="gs_argilla_push").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"{rows} rows sent to goldenloop-golden-support, {rows} new" in texts(at)
    at.run()  # the next run draws the table with the new link
    table = _links_table(at)
    assert table is not None and table[["pushed_version", "graded"]].values.tolist() == [[1, 0]]

    with open_store(app_db) as s:
        dataset_id = sql.links(s, golden="support")[0]["argilla_dataset_id"]
    with env.annotator_client("ana") as h:
        rec = next(iter(records_of(h, dataset_id).values()))
        respond(h, rec["id"], {"correctness": 5, S.CORRECTED: "<b>better</b>"}, "submitted")
    at = app_page("golden", params={"reviewer": "lead"})
    at.button(key="gs_argilla_pull").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "1 graded, 0 discarded, 0 set aside, 0 already pulled; reviewed version 2 made" \
        in texts(at)
    at.run()
    table = _links_table(at)
    assert table[["graded", "reviewed_version", "waiting"]].values.tolist() == [[1, 2, 0]]

    monkeypatch.setenv("ARGILLA_API_URL", "http://127.0.0.1:9")
    at.button(key="gs_argilla_pull").click().run()
    assert "Argilla server unreachable" in texts(at)
