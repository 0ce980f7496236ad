"""The demo history: deterministic, internally consistent, and every injected incident visible
in its window."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from goldenloop.demo import MODEL_VERSIONS, generate
from goldenloop.demo.texts_support import OFFENSIVE_MARKERS
from goldenloop.errors import GoldenloopError
from goldenloop.schema import open_store
from goldenloop.store import Store
from goldenloop.store.feedback import insert_feedback
from goldenloop.store.grades import insert_grades
from goldenloop.store.incidents import list_incidents

END = datetime(2026, 3, 2, 12)
N = 60_000


def content_hash(s: Store) -> tuple[str, str, str, str]:
    """Hashes of spans, feedback, grades and incidents, ignoring insert-time bookkeeping."""
    q = "SELECT md5(string_agg(CAST(t AS VARCHAR), '\n' ORDER BY {order})) FROM ({sel}) t"
    return (
        s.scalar(q.format(order="trace_id, span_id",
                          sel="SELECT * EXCLUDE (span_key, import_id, ingested_at) FROM spans")),
        s.scalar(q.format(order="feedback_id",
                          sel="SELECT * EXCLUDE (span_key, ingested_at) FROM feedback")),
        s.scalar(q.format(order="grade_id",
                          sel="SELECT * EXCLUDE (span_key, target_id) FROM grades")),
        s.scalar(q.format(order="kind", sel="SELECT * FROM demo_incidents")),
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """One 30-day history shared by the read-only tests."""
    s = open_store(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    summary = generate(s, spans=N, seed=7, end=END)
    yield s, summary
    s.close()


def windows(s: Store) -> dict[str, tuple[datetime, datetime]]:
    return {i["kind"]: (i["starts_at"], i["ends_at"] or END)
            for i in list_incidents(s.cursor())}


def rate_in_out(s: Store, expr: str, where: str, window: tuple[datetime, datetime]
                ) -> tuple[float, float]:
    inside = "start_time >= ? AND start_time < ?"
    return s.rows(
        f"""SELECT avg(CAST({expr} AS DOUBLE)) FILTER (WHERE {inside}),
                   avg(CAST({expr} AS DOUBLE)) FILTER (WHERE NOT ({inside}))
            FROM spans WHERE {where}""",
        [*window, *window],
    )[0]


# -- determinism ---------------------------------------------------------------------------

@pytest.mark.slow
def test_same_seed_same_rows_and_other_seed_differs(store, tmp_path):
    a = generate(store, spans=6_000, seed=3, days=7, end=END)
    with open_store(tmp_path / "b.duckdb") as b, open_store(tmp_path / "c.duckdb") as c:
        generate(b, spans=6_000, seed=3, days=7, end=END)
        generate(c, spans=6_000, seed=4, days=7, end=END)
        assert content_hash(store) == content_hash(b)
        other = content_hash(c)
    mine = content_hash(store)
    assert all(x != y for x, y in zip(mine[:3], other[:3], strict=True))
    assert a.spans == store.scalar("SELECT count(*) FROM spans") > 5_000
    assert a.quarantined == 0


@pytest.mark.slow
def test_generating_again_adds_nothing(store):
    first = generate(store, spans=5_000, seed=5, days=7, end=END)
    before = content_hash(store)
    again = generate(store, spans=5_000, seed=5, days=7, end=END)
    assert again.spans == 0 and again.duplicates == first.spans
    assert again.feedback == again.human_grades == again.judge_grades == again.criteria == 0
    assert again.queue_id == first.queue_id and store.scalar("SELECT count(*) FROM queues") == 1
    assert content_hash(store) == before


@pytest.mark.slow
def test_progress_and_minimum_days(store):
    seen = []
    generate(store, spans=3_000, days=7, end=END, progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(GoldenloopError, match="at least 7 days"):
        generate(store, spans=1_000, days=3, end=END)


@pytest.mark.slow
def test_a_small_history_with_a_day_without_sessions(store):
    """A small demo can draw no session of an app on some day (this end hour does, for the
    default seed): that day adds no turns instead of failing."""
    summary = generate(store, spans=3000, end=datetime(2026, 11, 27, 22))
    assert 2000 < summary.spans == store.scalar("SELECT count(*) FROM spans")


@pytest.mark.slow
def test_default_end_is_the_current_hour(store):
    s = generate(store, spans=2_000, days=7)
    assert s.end.minute == s.end.second == 0
    assert store.scalar("SELECT max(start_time) FROM spans") < s.end


# -- shape of the history ------------------------------------------------------------------

@pytest.mark.slow
def test_apps_models_and_span_kinds(history):
    s, summary = history
    assert 0.9 * N < summary.spans < 1.15 * N and summary.quarantined == 0
    rows = dict(s.rows("SELECT app, list(DISTINCT kind ORDER BY kind) FROM spans GROUP BY 1"))
    assert rows == {"support-bot": ["agent", "llm", "retrieval", "tool"],
                    "sql-assistant": ["llm"]}
    versions = {r[0] for r in s.rows("SELECT DISTINCT model_version FROM spans WHERE kind = 'llm'")}
    assert versions == set(MODEL_VERSIONS)
    assert s.scalar("SELECT count(*) FROM spans WHERE kind = 'llm' AND provider <> 'openai'") == 0
    # Cost comes from the price table for every billed call.
    assert s.scalar("""SELECT count(*) FROM spans WHERE kind = 'llm' AND status IN ('ok', 'empty')
                       AND (cost_usd IS NULL OR NOT cost_estimated)""") == 0
    assert s.scalar("SELECT count(DISTINCT environment) FROM spans") == 1
    assert s.scalar("SELECT count(DISTINCT prompt_version) FROM spans WHERE app = 'support-bot'") == 2
    assert s.scalar("SELECT count(DISTINCT release) FROM spans WHERE app = 'support-bot'") == 3
    assert s.scalar("""SELECT avg(CAST(cached_input_tokens > 0 AS DOUBLE)) FROM spans
                       WHERE app = 'support-bot' AND kind = 'llm'""") > 0.03


def test_sessions_have_several_turns_with_history(history):
    s, summary = history
    lengths = dict(s.rows("""SELECT n, count(*) FROM (SELECT session_id, count(*) AS n FROM spans
                             WHERE app = 'support-bot' AND kind = 'llm' GROUP BY 1) GROUP BY 1"""))
    assert lengths[1] > lengths[3] > lengths[6] > 0 and max(lengths) >= 10
    assert summary.sessions == s.scalar("SELECT count(DISTINCT session_id) FROM spans")
    # Turn k's messages hold the k earlier user messages plus its own, after two system ones.
    bad = s.scalar("""SELECT count(*) FROM spans WHERE app = 'support-bot' AND kind = 'llm' AND (
        len(list_filter(CAST(json_extract(messages, '$[*]') AS JSON[]),
                        lambda m: m->>'role' = 'user')) <> turn_index + 1
        OR CAST(json_extract(messages, '$[*]') AS JSON[])[1]->>'content' <> system_prompt
        OR CAST(json_extract(messages, '$[*]') AS JSON[])[-1]->>'content' <> last_user_message)""")
    assert bad == 0
    gaps = s.scalar("""SELECT count(*) FROM (SELECT session_id, max(turn_index) + 1 = count(*) ok
                       FROM spans WHERE kind = 'llm' GROUP BY 1) WHERE NOT ok""")
    assert gaps == 0


def test_trace_structure(history):
    s, _ = history
    bad = s.scalar("""
        WITH r AS (SELECT trace_id, span_id, start_time, end_time FROM spans WHERE kind = 'agent')
        SELECT count(*) FROM spans c JOIN r USING (trace_id)
        WHERE c.kind <> 'agent' AND (c.parent_span_id <> r.span_id
              OR c.start_time < r.start_time OR c.end_time > r.end_time)""")
    assert bad == 0
    per_trace = s.rows("""SELECT count(*) FILTER (WHERE kind = 'agent'),
                                 count(*) FILTER (WHERE kind = 'retrieval'),
                                 count(*) FILTER (WHERE kind = 'llm'),
                                 count(*) FILTER (WHERE kind = 'tool')
                          FROM spans WHERE app = 'support-bot' GROUP BY trace_id""")
    assert {r[:3] for r in per_trace} == {(1, 1, 1)} and {r[3] for r in per_trace} == {0, 1}
    docs = s.scalar("""SELECT min(json_array_length(retrieved_context)) FROM spans
                       WHERE kind = 'retrieval'""")
    assert docs == 4
    assert s.scalar("""SELECT count(*) FROM spans WHERE kind = 'tool'
                       AND tool_calls->'$[0].result'->>'status' IS NULL""") == 0


def test_daily_and_weekly_cycles(history):
    s, _ = history
    night, day = s.rows("""SELECT count(*) FILTER (WHERE hour(start_time) BETWEEN 2 AND 4),
                                  count(*) FILTER (WHERE hour(start_time) BETWEEN 13 AND 15)
                           FROM spans WHERE kind = 'llm'""")[0]
    assert night < 0.4 * day
    weekend, weekday = s.rows("""SELECT count(*) FILTER (WHERE isodow(start_time) >= 6) / 2,
                                        count(*) FILTER (WHERE isodow(start_time) <= 5) / 5
                                 FROM (SELECT * FROM spans WHERE kind = 'llm'
                                       AND start_time >= ? - INTERVAL 28 DAY)""", [END])[0]
    assert weekend < 0.8 * weekday


def test_base_rates_and_error_fields(history):
    s, _ = history
    ok = s.scalar("SELECT avg(CAST(status = 'ok' AS DOUBLE)) FROM spans WHERE kind = 'llm'")
    assert 0.96 < ok < 0.995
    assert s.scalar("""SELECT count(*) FROM spans WHERE kind = 'llm' AND (
        (status IN ('error', 'timeout')) <> (error_type IS NOT NULL)
        OR (status <> 'ok') <> (output IS NULL))""") == 0
    refusals = s.scalar("""SELECT count(*) FROM spans WHERE kind = 'llm'
                           AND output ILIKE '%can''t help with that%'""")
    assert refusals > 50


# -- incidents -----------------------------------------------------------------------------

def test_incidents_recorded(history):
    s, summary = history
    rows = list_incidents(s.cursor())
    assert [r["kind"] for r in rows] == [i.kind for i in summary.incidents]
    assert {r["kind"] for r in rows} == {"latency_spike", "error_burst", "token_drift",
                                         "timeout_storm", "offensive_rise", "correctness_drop"}
    start = summary.start
    for r in rows:
        assert start < r["starts_at"] < END
        assert (r["ends_at"] is None) == (r["kind"] in ("token_drift", "correctness_drop"))
    assert len(list_incidents(s.cursor(), since=END)) == 2  # the changes still in effect


def test_latency_spike(history):
    s, _ = history
    w = windows(s)["latency_spike"]
    inside, outside = s.rows(
        """SELECT quantile_cont(latency_ms, 0.95) FILTER (WHERE start_time >= ? AND start_time < ?),
                  quantile_cont(latency_ms, 0.95) FILTER (WHERE start_time < ? OR start_time >= ?)
           FROM spans WHERE app = 'support-bot' AND kind = 'llm'""", [*w, *w])[0]
    assert inside > 3 * outside


def test_error_burst(history):
    s, _ = history
    inside, outside = rate_in_out(s, "status = 'error'",
                                  "model_version = 'gpt-4o-mini-2024-07-18'",
                                  windows(s)["error_burst"])
    assert inside > 0.2 and inside > 10 * outside


def test_timeout_storm(history):
    s, _ = history
    inside, outside = rate_in_out(s, "status = 'timeout'", "app = 'support-bot' AND kind = 'llm'",
                                  windows(s)["timeout_storm"])
    assert inside > 0.15 and inside > 20 * outside


def test_offensive_rise(history):
    s, _ = history
    pattern = "(" + "|".join(OFFENSIVE_MARKERS) + ")"
    inside, outside = rate_in_out(s, f"regexp_matches(lower(last_user_message), '{pattern}')",
                                  "app = 'support-bot' AND kind = 'llm'",
                                  windows(s)["offensive_rise"])
    assert inside > 4 * outside and 0.005 < outside < 0.05


def test_silent_update_raises_output_tokens(history):
    s, _ = history
    start = windows(s)["token_drift"][0]
    assert s.scalar("""SELECT count(*) FROM spans WHERE model_version = 'gpt-4o-2024-11-20'
                       AND start_time < ?""", [start]) == 0
    assert s.scalar("""SELECT count(DISTINCT model) FROM spans
                       WHERE app = 'support-bot' AND kind = 'llm'""") == 1
    old, new = s.rows("""SELECT avg(output_tokens) FILTER (WHERE start_time < ?),
                                avg(output_tokens) FILTER (WHERE start_time >= ? + INTERVAL 1 DAY)
                         FROM spans WHERE app = 'support-bot' AND kind = 'llm' AND status = 'ok'""",
                      [start, start])[0]
    assert new > 1.3 * old


def test_correctness_drops_after_retrieval_change(history):
    s, _ = history
    start = windows(s)["correctness_drop"][0]
    by_source = {src: (before, after) for src, before, after in s.rows(
        """SELECT g.source, avg(g.value_number) FILTER (WHERE sp.start_time < ?),
                  avg(g.value_number) FILTER (WHERE sp.start_time >= ?)
           FROM grades g JOIN spans sp USING (span_key)
           WHERE g.criterion = 'correctness' AND sp.app = 'support-bot' GROUP BY 1""",
        [start, start])}
    assert by_source["judge"][1] < by_source["judge"][0] - 0.4
    assert by_source["human"][1] < by_source["human"][0]
    assert s.scalar("""SELECT count(DISTINCT json_extract_string(metadata, '$.retriever'))
                       FROM spans WHERE kind = 'retrieval' AND start_time >= ?""", [start]) == 1


# -- feedback and grades -------------------------------------------------------------------

def test_feedback_follows_answer_quality(history):
    s, summary = history
    assert summary.feedback == s.scalar("SELECT count(*) FROM feedback") > 500
    assert s.scalar("SELECT count(*) FROM feedback WHERE span_key IS NULL") == 0
    assert s.rows("""SELECT DISTINCT sp.app, sp.kind FROM feedback f
                     JOIN spans sp USING (span_key)""") == [("support-bot", "llm")]
    assert s.scalar("SELECT count(*) FROM feedback WHERE comment IS NOT NULL") > 100
    good, bad = s.rows("""SELECT avg(f.value) FILTER (WHERE g.value_number >= 4),
                                 avg(f.value) FILTER (WHERE g.value_number <= 2)
                          FROM feedback f JOIN grades g USING (span_key)
                          WHERE g.source = 'judge' AND g.criterion = 'correctness'""")[0]
    assert good > bad + 0.3


def test_grades_by_source(history):
    s, summary = history
    counts = dict(s.rows("SELECT source, count(*) FROM grades GROUP BY 1"))
    assert counts == {"human": summary.human_grades, "judge": summary.judge_grades}
    assert 100 < counts["human"] < counts["judge"]
    assert s.rows("SELECT name, value_type FROM criteria ORDER BY 1") == [
        ("correctness", "ordinal"), ("tone", "nominal")]
    assert s.scalar("""SELECT count(*) FROM grades WHERE span_key IS NULL
                       OR target_id <> CAST(span_key AS VARCHAR)
                       OR rubric_version <> 'demo-1'""") == 0
    assert s.scalar("""SELECT count(*) FROM grades WHERE source = 'judge' AND (judge_name IS NULL
                       OR judge_model IS NULL OR judge_version IS NULL OR raw IS NULL)""") == 0
    assert s.scalar("""SELECT count(DISTINCT author_id) FROM grades WHERE source = 'human'
                       AND author_kind = 'reviewer'""") >= 3
    doubles = s.scalar("""SELECT count(*) FROM (SELECT span_key FROM grades
                          WHERE source = 'human' AND criterion = 'correctness'
                          GROUP BY 1 HAVING count(DISTINCT author_id) = 2)""")
    assert doubles >= 10
    # Every reviewed span is judged; agreement is high but imperfect, the judge lenient.
    exact, bias, pairs = s.rows("""
        SELECT avg(CAST(h.value_number = j.value_number AS DOUBLE)),
               avg(j.value_number - h.value_number), count(*)
        FROM grades h JOIN grades j USING (span_key, criterion)
        WHERE h.source = 'human' AND j.source = 'judge' AND criterion = 'correctness'""")[0]
    unmatched = s.scalar("""SELECT count(*) FROM grades h WHERE source = 'human' AND NOT EXISTS
                            (SELECT 1 FROM grades j WHERE j.source = 'judge'
                             AND j.span_key = h.span_key)""")
    assert unmatched == 0 and pairs > 100
    assert 0.55 < exact < 0.92 and bias > 0
    labels = {r[0] for r in s.rows("SELECT DISTINCT value_label FROM grades WHERE criterion = 'tone'")}
    assert {"on-brand", "too casual", "too formal"} <= labels


def test_reviewers_correct_some_low_graded_answers_and_they_become_golden_rows(history):
    """Corrections are consistent with the grades, and a golden build takes them as the
    expected output of every corrected span whose reviewers agree on the verdict."""
    from goldenloop import golden
    from goldenloop.demo.corrections import CORRECTED, insert_corrections

    s, summary = history
    with s.transaction() as cur:
        insert_corrections(cur, summary.seed)   # adds nothing when the demo already did
        assert insert_corrections(cur, summary.seed) == 0
    corr = s.rows("""SELECT c.target_id, c.corrected_output, c.author_id, c.created_at,
                            sp.app, sp.tags[1], c.supersedes, c.retracted
                     FROM corrections c JOIN spans sp USING (span_key)""")
    low = {(str(k), who, at) for k, who, at in s.rows(
        """SELECT span_key, author_id, created_at FROM grades WHERE source = 'human'
           AND criterion = 'correctness' AND value_number <= 2""")}
    low_spans = {k for k, _, _ in low}
    assert 0 < len(corr) < len(low_spans)                      # a share, not all
    assert len({c[0] for c in corr}) == len(corr)               # one per span
    for target, text, who, at, app, intent, supersedes, retracted in corr:
        assert (target, who, at) in low           # by a reviewer who graded it low, then
        assert app == "support-bot" and text in CORRECTED[intent]
        assert supersedes is None and not retracted

    (Path(s.path).parent / "roles.yaml").write_text("leads: [lead]\n", encoding="utf-8")
    version = golden.build(s, "demo-corrected", golden.GoldenFilter(), "lead").version
    rows = golden.rows(s, version)
    from_corr = rows[rows["expected_source"] == "correction"]
    texts = {f"span:{c[0]}": (c[1], c[2]) for c in corr}
    # Independently: a corrected span is kept when its reviewers agree on the verdict
    # (correct means 4 or 5 on the demo's 1-5 scale).
    verdicts = {}
    for k, v in s.rows("""SELECT span_key, value_number FROM grades WHERE source = 'human'
                          AND criterion = 'correctness'"""):
        verdicts.setdefault(f"span:{k}", set()).add(v >= 4)
    agreed = {k for k in texts if len(verdicts[k]) == 1}
    assert agreed and set(from_corr["row_key"]) == agreed
    for r in from_corr.itertuples():
        assert (r.expected_output, r.corrected_by) == texts[r.row_key]
        assert r.rejected_output == r.output != r.expected_output and not r.correct


# -- store functions -----------------------------------------------------------------------

def test_store_inserts_resolve_spans(history, store):
    s, _ = history
    trace_id, span_id = s.rows("SELECT trace_id, span_id FROM spans WHERE kind = 'llm' LIMIT 1")[0]
    with store.transaction() as cur:
        n = insert_feedback(cur, pa.table({"trace_id": [trace_id], "span_id": [span_id],
                                           "kind": ["thumbs"], "value": [1.0]}))
        g = insert_grades(cur, pa.table({"trace_id": [trace_id], "span_id": [span_id],
                                         "criterion": ["correctness"], "value_number": [4.0],
                                         "source": ["human"], "author_id": ["ana"]}))
    assert n == g == 1
    # This store has no such span: the keys stay NULL rather than guessed.
    assert store.rows("SELECT span_key, feedback_id FROM feedback") == [(None, 1)]
    assert store.rows("SELECT span_key, target_type, grade_id FROM grades") == [(None, "span", 1)]


# -- speed ---------------------------------------------------------------------------------

@pytest.mark.slow  # the default 200,000-span demo: tests/system/test_unit_slow.py runs it
def test_default_size_is_fast(store):
    t0 = time.perf_counter()
    summary = generate(store, end=END)
    took = time.perf_counter() - t0
    assert 180_000 < summary.spans < 230_000
    assert took < 30, f"generating the default history took {took:.1f} s"
