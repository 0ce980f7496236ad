"""`goldenloop argilla push|pull|status` against the real test server, errors as one plain
line (no traceback), the owner's scheduled pull, and responses that do not fit the rubric
kept aside with their reason."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from argilla_support import records_of, respond
from review_support import FULL, opts, synthetic_spans
from typer.testing import CliRunner

from goldenloop import rubric as rubrics
from goldenloop.argilla_sync import settings as S
from goldenloop.argilla_sync.jobs import ArgillaPullScheduler, pull_job
from goldenloop.cli import app
from goldenloop.review.answers import GradeError
from goldenloop.review.submit import check_answers
from goldenloop.sampling import Uniform, create_queue, make_frame
from goldenloop.schema import open_store

pytest_plugins = ["argilla_server"]  # the server fixture (tests/argilla_server.py)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "goldenloop.duckdb"
    with open_store(path) as s:
        synthetic_spans(s, 40, seed=5)
        qid = create_queue(s, opts("cli queue"), make_frame(), Uniform(8), seed=2).queue_id
    return path, qid


def run(*args: str) -> str:
    r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def test_cli_push_status_pull(argilla_server, db, monkeypatch):
    path, qid = db
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("GL_TEST_KEY", argilla_server.owner_key)
    common = ("--db", str(path), "--author", "lead")
    out = run("argilla", "push", "--queue", str(qid), "--workspace", "goldenloop",
              "--dataset", "cli-queue", "--key-env", "GL_TEST_KEY", *common)
    with open_store(path) as s:
        n = s.scalar("SELECT count(*) FROM queue_items WHERE queue_id = ?", [qid])
        did = s.scalar("SELECT argilla_dataset_id FROM argilla_datasets")
        assert s.scalar("SELECT key_env FROM argilla_datasets") == "GL_TEST_KEY"
    assert f"{n} records sent, {n} new" in out and argilla_server.owner_key not in out
    out = run("argilla", "status", "--db", str(path))
    assert f"in Argilla: {n} records, {n} pending" in out and "last pull: never" in out
    with argilla_server.annotator_client("ana") as h:
        rec = next(iter(records_of(h, did).values()))
        respond(h, rec["id"], FULL, "submitted")
    out = run("argilla", "pull", *common)
    assert "cli-queue: 1 graded" in out
    out = run("argilla", "pull", *common)
    assert "cli-queue: 0 graded" in out and "1 already pulled" in out
    assert "pulled: 1 graded, 0 discarded, 0 set aside" in run("argilla", "status", "--db",
                                                                str(path))


def test_cli_error_is_one_plain_line(db):
    path, qid = db
    env = {**os.environ, "ARGILLA_API_URL": "http://127.0.0.1:9", "ARGILLA_API_KEY": "k"}
    done = subprocess.run([sys.executable, "-c", "from goldenloop.cli import main; main()",
                           "argilla", "push", "--queue", str(qid), "--db", str(path),
                           "--author", "lead"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2
    assert "Argilla server unreachable at http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_scheduler_queues_one_pull_and_the_job_pulls(argilla_server, db, monkeypatch):
    path, qid = db
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.owner_key)
    with open_store(path) as s:
        sched = ArgillaPullScheduler(s, every=0.01)
        time.sleep(0.02)
        sched.tick()
        assert s.scalar("SELECT count(*) FROM jobs WHERE kind = 'argilla_pull'") == 0
        from goldenloop import argilla_sync
        argilla_sync.push_queue(s, qid, pushed_by="lead", workspace="goldenloop",
                                dataset="scheduled-queue")
        for _ in range(2):  # a pull already queued is not queued again
            time.sleep(0.02)
            sched.tick()
        assert s.scalar("SELECT count(*) FROM jobs WHERE kind = 'argilla_pull'") == 1
        did = s.scalar("SELECT argilla_dataset_id FROM argilla_datasets")
        with argilla_server.annotator_client("ben") as h:
            rec = next(iter(records_of(h, did).values()))
            respond(h, rec["id"], {**FULL, "correctness": 1}, "submitted")
        out = pull_job(s, {"author": "goldenloop-scheduler"}, lambda f, m: None)
        assert out["graded"] == 1
        assert s.scalar("SELECT author_id FROM live_grades WHERE source = 'human'") == "ben"


def test_values_that_do_not_fit_are_set_aside_with_a_reason():
    r = rubrics.parse({"name": "scores", "criteria": [
        {"name": "score", "type": "interval", "scale": [0, 100]},
        {"name": "ok", "type": "boolean", "required": False}]}, "test")
    assert not S.is_rating(r.criterion("score"))  # 0..100 is asked as a number in text
    with pytest.raises(S.SetAside, match="score: 'lots' is not a number"):
        S.answers(r, {"score": "lots"})
    with pytest.raises(S.SetAside, match="ok: 'maybe' is not yes or no"):
        S.answers(r, {"score": "5", "ok": "maybe"})
    answers, _ = S.answers(r, {"score": "150"})
    with pytest.raises(GradeError, match="150 is outside the scale 0 to 100"):
        check_answers(r, answers)
    answers, _ = S.answers(r, {"score": "42.5", "ok": "yes", S.NOT_APPLICABLE: ["ok"]})
    checked = check_answers(r, answers)
    assert checked["score"][1]["value_number"] == 42.5 and checked["ok"][0].not_applicable


SCORES = """name: scores
criteria:
  - name: score
    type: interval
    scale: [0, 100]
"""


def test_out_of_scale_answer_is_set_aside_then_a_fixed_one_is_graded(argilla_server, tmp_path,
                                                                      monkeypatch):
    from argilla_support import change

    from goldenloop import argilla_sync

    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.owner_key)
    path = tmp_path / "goldenloop.duckdb"
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "scores.yaml").write_text(SCORES)
    with open_store(path) as s:
        synthetic_spans(s, 10, seed=6)
        qid = create_queue(s, opts("scored", rubric="scores"), make_frame(), Uniform(4),
                           seed=1).queue_id
        argilla_sync.push_queue(s, qid, pushed_by="lead", workspace="goldenloop",
                                dataset="scored-queue")
        did = s.scalar("SELECT argilla_dataset_id FROM argilla_datasets")
        with argilla_server.annotator_client("ben") as h:
            rec = next(iter(records_of(h, did).values()))
            resp = respond(h, rec["id"], {"score": "150"}, "submitted")
        r = argilla_sync.pull(s, "lead")[0]
        assert (r.graded, r.set_aside) == (0, 1)
        assert "score: 150 is outside the scale 0 to 100" in r.reasons[0]
        aside = argilla_sync.set_aside(s)
        assert len(aside) == 1 and '"150"' in aside["raw_values"][0]
        assert s.scalar("SELECT count(*) FROM grades WHERE source = 'human'") == 0
        with argilla_server.annotator_client("ben") as h:
            change(h, resp["id"], {"score": "42.5"})
        r = argilla_sync.pull(s, "lead")[0]
        assert (r.graded, r.set_aside) == (1, 0)
        assert s.rows("SELECT author_id, value_number FROM live_grades "
                      "WHERE source = 'human'") == [("ben", 42.5)]
        assert argilla_sync.status(s, qid)[0].set_aside == 0  # the latest version counts


def test_adjudication_queue_answers_are_marked_adjudication(argilla_server, db, tmp_path,
                                                            monkeypatch):
    from goldenloop import argilla_sync

    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.owner_key)
    path, review_qid = db
    with open_store(path) as s:
        qid = create_queue(s, opts("settle", purpose="adjudication"), make_frame(), Uniform(4),
                           seed=8).queue_id
        for q in (review_qid, qid):
            argilla_sync.push_queue(s, q, pushed_by="lead", workspace="goldenloop",
                                    dataset=f"adjudication-{q}")
        links = {row[0]: (row[1], row[2]) for row in s.rows(
            "SELECT queue_id, argilla_dataset_id, suggestions FROM argilla_datasets")}
        assert links[qid][1] is True and links[review_qid][1] is False  # blind by default
        with argilla_server.annotator_client("ana") as h:
            for q in (review_qid, qid):
                rec = next(iter(records_of(h, links[q][0]).values()))
                respond(h, rec["id"], FULL, "submitted")
        argilla_sync.pull(s, "lead")
        flags = dict(s.rows("SELECT queue_id, bool_and(is_adjudication) FROM live_grades "
                            "WHERE source = 'human' GROUP BY 1"))
        assert flags == {qid: True, review_qid: False}
