"""Signals in a real store: the demo's known incidents and texts show up in the scores, only
LLM spans get rows, scoring is idempotent and resumable, stale versions are scored again in
place, and the worker job, the scheduler and the CLI drive it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from goldenloop import demo
from goldenloop.cli import app
from goldenloop.config import resolve_paths
from goldenloop.demo import texts_answers as A
from goldenloop.demo import texts_sql as Q
from goldenloop.demo import texts_support as S
from goldenloop.ingest.loader import import_table
from goldenloop.schema import open_store
from goldenloop.scorers import run, sentiment
from goldenloop.store import Store
from goldenloop.store import jobs as job_sql
from goldenloop.store import signals as signal_sql
from goldenloop.workers.handlers import HANDLERS
from goldenloop.workers.jobs import run_job
from goldenloop.workers.pool import ScoreScheduler

DEMO_SPANS = 5_000


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A scored demo history, shared by the tests that only read it."""
    s = open_store(tmp_path_factory.mktemp("scored") / "goldenloop.duckdb")
    demo.generate(s, spans=DEMO_SPANS)
    result = run.score_spans(s)
    yield s, result
    s.close()


def _query(store: Store, sql: str, **tables: list[str]) -> list[tuple]:
    """Run ``sql`` with in-memory one-column tables registered, on a cursor of its own (the
    thread's shared cursor may hold a half-read result, which blocks ``register``)."""
    cur = store.con.cursor()
    try:
        for name, values in tables.items():
            cur.register(name, pa.table({"v": values}))
        return cur.execute(sql).fetchall()
    finally:
        cur.close()


def _spans(n: int, start: int = 0, kind: str | None = None) -> pa.Table:
    return pa.table({
        "trace_id": [f"t{i}" for i in range(start, start + n)],
        "span_id": ["s"] * n,
        "start_time": pa.array([1_735_689_600 + i for i in range(start, start + n)], pa.int64()),
        "kind": [kind] * n,
        "last_user_message": [f"question {i}, you idiot" for i in range(start, start + n)],
        "output": ["I'm sorry, but I can't help with that."] * n,
    })


def test_offensive_user_messages_rise_inside_the_incident_window(scored):
    store, _ = scored
    rows = dict(store.rows(
        """SELECT s.start_time >= i.starts_at AND s.start_time < i.ends_at, avg(g.user_offensive)
           FROM spans s JOIN signals g USING (span_key)
           JOIN demo_incidents i ON i.kind = 'offensive_rise' AND i.app = s.app
           GROUP BY 1"""))
    inside, outside = rows[True], rows[False]
    assert inside > 2 * outside, (inside, outside)


def test_messages_with_offensive_words_score_high(scored):
    store, _ = scored
    rows = dict(_query(
        store,
        """SELECT EXISTS (SELECT 1 FROM markers WHERE contains(lower(s.last_user_message), v)),
                  avg(g.user_offensive)
           FROM spans s JOIN signals g USING (span_key)
           WHERE s.last_user_message IS NOT NULL GROUP BY 1""",
        markers=list(S.OFFENSIVE_MARKERS)))
    assert rows[True] > 0.6 and rows[False] < 0.15, rows


def test_refusals_match_the_demo_refusal_texts_exactly(scored):
    store, _ = scored
    oos = A.BODIES["out_of_scope"]
    known = A.REFUSALS + Q.REFUSALS + oos["good"] + oos["short"] + oos["partial"]
    counts = {(truth, flagged): n for truth, flagged, n in _query(
        store,
        """SELECT EXISTS (SELECT 1 FROM known_refusals WHERE contains(s.output, v)), g.refusal,
                  count(*)
           FROM spans s JOIN signals g USING (span_key) WHERE s.output IS NOT NULL
           GROUP BY ALL""",
        known_refusals=known)}
    assert counts.get((True, True), 0) > 20  # the demo has refusals, and all are found
    assert counts.get((True, False), 0) == 0 and counts.get((False, True), 0) == 0, counts


def test_sentiment_follows_the_users_mood(scored):
    store, _ = scored
    means = {}
    for mood in ("positive", "negative"):
        prefixes = [p.strip() for p in S.MOOD_PREFIX[mood] if p.strip()]
        [(means[mood],)] = _query(
            store,
            """SELECT avg(g.user_sentiment) FROM spans s JOIN signals g USING (span_key)
               WHERE EXISTS (SELECT 1 FROM prefixes WHERE starts_with(s.last_user_message, v))""",
            prefixes=prefixes)
    # "This is the third time I'm asking." reads as neutral to a lexicon: the negative mean is
    # milder than the positive one, but its sign is right.
    assert means["positive"] > 0.3 and means["negative"] < -0.05, means


def test_only_llm_spans_get_rows_and_missing_text_stays_null(scored):
    store, result = scored
    llm = store.scalar("SELECT count(*) FROM spans WHERE kind = 'llm'")
    assert result.spans == llm == store.scalar("SELECT count(*) FROM signals")
    assert store.scalar("SELECT count(DISTINCT span_key) FROM signals") == llm
    assert store.scalar("""SELECT count(*) FROM signals g JOIN spans s USING (span_key)
                           WHERE s.kind <> 'llm'""") == 0
    errors = store.rows("""SELECT g.output_chars, g.output_offensive, g.output_sentiment,
                                  g.refusal FROM spans s JOIN signals g USING (span_key)
                           WHERE s.output IS NULL""")
    assert errors and set(errors) == {(None, None, None, None)}


def test_lengths_agree_with_the_stored_text(scored):
    store, _ = scored
    rows = store.rows("""SELECT s.output, g.output_chars, g.output_words
                         FROM spans s JOIN signals g USING (span_key)
                         WHERE s.output IS NOT NULL USING SAMPLE 300 ROWS""")
    assert all(chars == len(o) and words == len(o.split()) for o, chars, words in rows)
    assert signal_sql.coverage(store.cursor())["scored"] == store.scalar(
        "SELECT count(*) FROM spans WHERE kind = 'llm'")


def test_scoring_twice_adds_nothing(store):
    import_table(store, _spans(30), source="test", origin="test")
    first = run.score_spans(store)
    before = store.rows("SELECT * FROM signals ORDER BY span_key")
    second = run.score_spans(store)
    assert (first.spans, first.inserted, second.spans) == (30, 30, 0)
    assert store.rows("SELECT * FROM signals ORDER BY span_key") == before
    assert not signal_sql.has_pending(store.cursor(), run.versions())


def test_non_llm_spans_are_not_scored(store):
    import_table(store, _spans(5, kind="tool"), source="test", origin="test")
    assert run.score_spans(store).spans == 0
    assert store.scalar("SELECT count(*) FROM signals") == 0


def test_a_changed_scorer_version_rescores_in_place_and_keeps_moderation(store, monkeypatch):
    import_table(store, _spans(10), source="test", origin="test")
    run.score_spans(store)
    store.write(lambda cur: cur.execute(
        """UPDATE signals SET output_moderation_flagged = true,
           scorer_versions = json_merge_patch(scorer_versions, '{"moderation": "m1"}')"""))
    monkeypatch.setattr(sentiment, "VERSION", "vader-next")
    assert signal_sql.has_pending(store.cursor(), run.versions())
    again = run.score_spans(store)
    assert (again.spans, again.inserted, again.updated) == (10, 0, 10)
    assert store.scalar("SELECT count(*) FROM signals") == 10
    versions = {json.loads(v)["sentiment"] for (v,) in store.rows(
        "SELECT scorer_versions FROM signals")}
    assert versions == {"vader-next"}
    assert store.scalar("SELECT bool_and(output_moderation_flagged) FROM signals")
    assert store.scalar("SELECT count(*) FROM signals WHERE scorer_versions->>'moderation' = 'm1'") == 10
    assert run.score_spans(store, rescore=True).updated == 10


def test_a_stopped_run_is_continued_by_the_next(store):
    import_table(store, _spans(25), source="test", origin="test")

    class Stop(Exception):
        pass

    def stop_after_first_batch(fraction: float, message: str) -> None:
        if fraction > 0:
            raise Stop

    with pytest.raises(Stop):
        run.score_spans(store, batch_spans=10, progress=stop_after_first_batch)
    assert store.scalar("SELECT count(*) FROM signals") == 10  # the first batch committed
    rest = run.score_spans(store, batch_spans=10)
    assert rest.inserted == 15
    assert store.scalar("SELECT count(DISTINCT span_key) FROM signals") == 25


def test_score_job_runs_through_the_job_runner(store):
    import_table(store, _spans(12), source="test", origin="test")
    jid = store.write(job_sql.create, "score", {}, "test")
    job = store.write(job_sql.claim_next)
    run_job(store, job, HANDLERS)
    done = store.write(job_sql.get, jid)
    assert done.status == "done" and done.progress == 1.0, done.error
    assert done.result["spans"] == 12 and "scored 12 LLM spans" in done.message
    assert store.scalar("SELECT count(*) FROM signals WHERE refusal") == 12


def test_scheduler_queues_one_score_job_after_an_import_commits(store):
    scheduler = ScoreScheduler(store, gap=0)
    assert not scheduler.tick() and _score_jobs(store) == []  # nothing stored yet
    import_table(store, _spans(8), source="test", origin="test")
    scheduler.tick()
    assert _score_jobs(store) == ["queued"]
    import_table(store, _spans(4, start=100), source="test", origin="test")
    scheduler.tick()
    assert _score_jobs(store) == ["queued"]  # one is already waiting: no second
    run_job(store, store.write(job_sql.claim_next), HANDLERS)
    assert store.scalar("SELECT count(*) FROM signals") == 12
    scheduler.tick()
    assert _score_jobs(store) == ["done"]  # nothing left to score


def test_scheduler_waits_its_gap_between_jobs(store):
    scheduler = ScoreScheduler(store, gap=3600)
    import_table(store, _spans(3), source="test", origin="test")
    scheduler.tick()
    run_job(store, store.write(job_sql.claim_next), HANDLERS)
    import_table(store, _spans(3, start=50), source="test", origin="test")
    scheduler.tick()
    assert _score_jobs(store) == ["done"]  # pending, but within the gap: later


def _score_jobs(store: Store) -> list[str]:
    return [s for (s,) in store.rows("SELECT status FROM jobs WHERE kind = 'score' ORDER BY job_id")]


def test_cli_scores_directly_without_a_server(tmp_path):
    db = tmp_path / "g.duckdb"
    with open_store(db) as s:
        import_table(s, _spans(6), source="test", origin="test")
    runner = CliRunner()
    out = runner.invoke(app, ["score", "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert "scored 6 LLM spans (6 new, 0 again)" in out.output
    again = runner.invoke(app, ["score", "--db", str(db)])
    assert "signals up to date" in again.output


def test_cli_hands_scoring_to_a_running_server(tmp_path):
    paths = resolve_paths(tmp_path / "g.duckdb").ensure()
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        paths.owner_file.write_text(json.dumps(
            {"pid": stand_in.pid, "command": "goldenloop serve", "started_at": time.time(),
             "url": "http://127.0.0.1:1"}))
        out = CliRunner().invoke(app, ["score", "--db", str(paths.db), "--rescore", "--by", "lead"])
        assert out.exit_code == 0, out.output
        assert f"process {stand_in.pid}" in out.output and "queued scoring" in out.output
        job = json.loads(next(paths.inbox.glob("*.job.json")).read_text())
        # The job names who asked (the server acts as them).
        assert job["kind"] == "score" and job["params"] == {"rescore": True, "submitted_by": "lead"}
        assert not paths.db.exists()  # the live file was never opened
    finally:
        stand_in.kill()
        stand_in.wait()
