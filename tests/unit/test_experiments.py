"""Experiments: test sets (files with quarantine, golden versions), targets as hashed YAML,
and runs against a loopback OpenAI-compatible endpoint and an application entry point, on
real DuckDB files. Scores are checked against the scripted answers' known truth."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime

import pytest
from openai_loopback import VERSION, Reply, openai_server
from review_support import synthetic_spans

from goldenloop import golden as G
from goldenloop.errors import ExperimentError
from goldenloop.experiments import datasets, runner, targets
from goldenloop.judge.client import Retry
from goldenloop.review import sql as review_sql
from goldenloop.store.span_columns import INTERNAL_SOURCES

FAST = Retry(max_attempts=3, base_s=0.01, cap_s=0.05)


def _jsonl(path, rows, extra_lines=()):
    lines = [json.dumps(r) for r in rows] + list(extra_lines)
    path.write_bytes(("\n".join(lines) + "\n").encode() if isinstance(lines[0], str) else b"")
    return path


def _qa_file(tmp_path, n=12):
    return _jsonl(tmp_path / "qa.jsonl",
                  [{"id": f"q{i}", "input": f"question {i}", "expected": f"answer {i}"}
                   for i in range(n)])


def _target(base_url, **kw):
    spec = {"name": "bot", "model": "gpt-4o-mini", "system": "Answer briefly.",
            "template": "Q: {{ input }}", "endpoint": {"base_url": base_url}, **kw}
    return targets.Target(spec=targets.parse(spec, "bot.yaml"))


def _number(body) -> int:
    return int(body["messages"][-1]["content"].rsplit(" ", 1)[1])


# -- test sets ---------------------------------------------------------------------------------
def test_file_import_quarantines_bad_rows_and_keeps_the_rest(store, tmp_path):
    good = [{"id": "a", "input": "hello", "expected": "hi"},
            {"id": 7, "messages": [{"role": "user", "content": "from messages"}]},
            {"input": "no id", "expected": {"k": 1}, "lang": "en"}]
    path = tmp_path / "set.jsonl"
    path.write_bytes(b"\n".join([json.dumps(r).encode() for r in good] + [
        b"{not json", b'"a string"', json.dumps({"id": "a", "input": "again"}).encode(),
        json.dumps({"id": "e", "input": "  "}).encode(),
        json.dumps({"id": "m", "messages": [{"role": "user"}]}).encode(),
        b'{"id": "lat", "input": "caf\xe9"}']) + b"\n")
    r = datasets.import_file(store, "mixed", path)
    assert r.dataset.items == 3 and r.new_version and r.dataset.version == 1
    bad = {(q["row_number"], q["field"]) for q in r.quarantined}
    assert bad == {(4, "<row>"), (5, "<row>"), (6, "id"), (7, "input"), (8, "messages"),
                   (9, "<row>")}
    assert any("UTF-8" in q["reason"] for q in r.quarantined)
    stored = datasets.quarantine(store, "mixed")
    assert sorted(stored["row_number"]) == [4, 5, 6, 7, 8, 9]
    its = {i["item_key"]: i for i in datasets.items(store, r.dataset)}
    assert its["7"]["input"] == "from messages" and its["7"]["messages"][0]["role"] == "user"
    hashed = next(i for k, i in its.items() if k.startswith("h:"))
    assert json.loads(hashed["expected"]) == {"k": 1} and hashed["metadata"] == {"lang": "en"}
    # The same content again: no new version; changed content: version 2.
    assert not datasets.import_file(store, "mixed", path).new_version
    path.write_text(json.dumps({"id": "z", "input": "new"}) + "\n")
    assert datasets.import_file(store, "mixed", path).dataset.version == 2
    path.write_text(json.dumps({"id": "z", "input": "new", "metadata": {"topic": "x"}}) + "\n")
    assert datasets.import_file(store, "mixed", path).dataset.version == 3   # metadata counts
    assert datasets.resolve(store, "mixed@1").items == 3
    assert datasets.resolve(store, "mixed").version == 3


def test_csv_import_and_clear_errors(store, tmp_path):
    p = tmp_path / "set.csv"
    p.write_text('id,input,expected,topic\n1,"a, b",x,t1\n2,,y,t2\n3,c,,t3\n4,d,z,t4,extra\n',
                 encoding="utf-8")
    r = datasets.import_file(store, "csvset", p)
    assert r.dataset.items == 2
    assert {(q["row_number"], q["field"]) for q in r.quarantined} == {(3, "input"), (5, "<row>")}
    its = datasets.items(store, r.dataset)
    assert its[0]["input"] == "a, b" and its[0]["metadata"] == {"topic": "t1"}
    assert its[1]["expected"] is None
    (tmp_path / "latin.csv").write_bytes("id,input\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ExperimentError, match=r"latin.csv: line 2: not UTF-8"):
        datasets.import_file(store, "latin", tmp_path / "latin.csv")
    (tmp_path / "nohead.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ExperimentError, match="'input'"):
        datasets.import_file(store, "nohead", tmp_path / "nohead.csv")
    with pytest.raises(ExperimentError, match="no test set or golden dataset"):
        datasets.resolve(store, "missing@3")


def test_a_golden_version_is_a_test_set_with_its_provenance(store):
    synthetic_spans(store, 4, seed=2)
    keys = [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]
    t0 = datetime(2026, 2, 1)

    def write(cur):
        for k in keys:
            review_sql.insert_human_grades(cur, [{
                "target_type": "span", "target_id": str(k), "span_key": k,
                "criterion": "correctness", "value_number": 5.0, "source": "human",
                "author_kind": "reviewer", "author_id": "ana", "rubric_name": "default",
                "rubric_version": "v1", "created_at": t0}])

    store.write(write)
    G.build(store, "gold", G.GoldenFilter(correct_at=4), "lead")
    ds = datasets.resolve(store, "gold@1")
    assert ds.kind == "golden" and ds.items == 4
    again = datasets.resolve(store, "gold")
    assert again.dataset_id == ds.dataset_id  # stored once
    its = datasets.items(store, ds)
    assert sorted(i["span_key"] for i in its) == sorted(keys)
    assert all(i["expected"] for i in its) and all(i["metadata"]["trace_id"] for i in its)
    with pytest.raises(ExperimentError, match="golden dataset"):
        datasets.import_file(store, "gold", _qa_file(store.path.parent))


# -- targets -----------------------------------------------------------------------------------
def test_target_versions_hash_content_not_endpoint(tmp_path):
    a = _target("http://127.0.0.1:1/v1")
    b = _target("http://127.0.0.1:2/v1", description="other words")
    c = _target("http://127.0.0.1:1/v1", template="Question: {{ input }}")
    assert a.version == b.version != c.version
    with pytest.raises(ExperimentError, match=r"bot.yaml: template: .*unknown variables expected"):
        _target("x", template="{{ expected }}")
    with pytest.raises(ExperimentError, match="model cannot be parameters"):
        _target("x", parameters={"model": "other"})
    with pytest.raises(ExperimentError, match="entry: module:function"):
        targets.parse({"name": "app", "kind": "app"}, "app.yaml")
    # The sandbox: a template cannot reach Python internals.
    evil = _target("x", template="{{ input.__class__.__mro__ }}")
    with pytest.raises(Exception, match=r"unsafe|access"):
        evil.messages({"input": "q"})
    msgs = a.messages({"input": "hi", "metadata": {}})
    assert msgs == [{"role": "system", "content": "Answer briefly."},
                    {"role": "user", "content": "Q: hi"}]
    chat = _target("x", template=None)
    given = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"},
             {"role": "user", "content": "now"}]
    assert chat.messages({"input": "now", "messages": given})[1:] == given


def test_targets_load_from_the_folder_beside_the_database(store):
    folder = store.path.parent / "targets"
    folder.mkdir()
    (folder / "bot.yaml").write_text("name: bot\nmodel: m\ntemplate: '{{ input }}'\n"
                                     "endpoint:\n  base_url_env: BOT_URL\n  api_key_env: BOT_KEY\n")
    t = targets.get(store, "bot")
    assert t.spec.endpoint.api_key_env == "BOT_KEY"
    with pytest.raises(ExperimentError, match="known: bot"):
        targets.get(store, "other")


# -- runs --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_run_records_answers_failures_scores_and_spans(store, tmp_path):
    ds = datasets.import_file(store, "qa", _qa_file(tmp_path)).dataset
    seen_429: list[float] = []

    def script(body):
        n = _number(body)
        if n == 3:
            return Reply(status=400)                       # a client error: fails at once
        if n == 4 and not seen_429:
            seen_429.append(time.monotonic())
            return Reply(status=429, retry_after="0.5")    # retried after Retry-After
        if n == 5:
            return Reply(status=503)                       # retried until attempts run out
        return Reply(content=f"answer {n}" if n % 2 == 0 else f"Answer {n}.")

    with openai_server(script) as srv:
        t0 = time.monotonic()
        res = runner.run(store, _target(srv.base_url), ds, ["exact", "normalized", "token_f1"],
                         runner.RunOptions(concurrency=4, retry=FAST))
        assert time.monotonic() - t0 >= 0.5
    assert (res.items, res.answered, res.failed, res.not_run) == (12, 10, 2, 0)
    assert res.calls == 12 - 2 + 1 + 1 + FAST.max_attempts  # 429 twice, 503 three times
    assert res.model_versions == {VERSION} and res.status == "done"
    results = store.df("SELECT * FROM experiment_results WHERE run_id = ?", [res.run_id])
    failed = results[results["status"] == "failed"].set_index("item_key")
    assert set(failed.index) == {"q3", "q5"} and failed.loc["q3", "attempts"] == 1
    assert "503" in failed.loc["q5", "error"] or "InternalServer" in failed.loc["q5", "error"] \
        or "APIStatusError" in failed.loc["q5", "error"]
    scores = store.df("""SELECT item_key, scorer, value, passed FROM experiment_scores
                         WHERE run_id = ?""", [res.run_id])
    by = scores.set_index(["item_key", "scorer"])
    for i in range(12):
        key = f"q{i}"
        right = i not in (3, 5)
        assert by.loc[(key, "exact"), "value"] == float(right and i % 2 == 0)
        assert by.loc[(key, "normalized"), "value"] == float(right)
        assert by.loc[(key, "token_f1"), "passed"] == right
    spans = store.df("SELECT * FROM spans WHERE source = 'experiment'")
    assert len(spans) == res.calls
    assert set(spans["model_version"].dropna()) == {VERSION}
    assert (spans["prompt_version"] == _target("x").version).all()
    assert spans["input_tokens"].notna().sum() == 10 and spans["cost_usd"].notna().any()
    assert {"experiment", "canary"} <= set(INTERNAL_SOURCES)
    run = store.df("SELECT * FROM experiment_runs WHERE run_id = ?", [res.run_id]).iloc[0]
    assert run["status"] == "done" and run["failed"] == 2 and list(run["model_versions"]) == [VERSION]


@pytest.mark.slow
def test_budget_stops_the_run_and_counts_items_not_run(store, tmp_path):
    ds = datasets.import_file(store, "qa", _qa_file(tmp_path, 40)).dataset
    with openai_server(lambda body: Reply(content="x", delay_s=0.05)) as srv:
        # gpt-4o-mini's price: each call reserves its most (prompt bytes + 16 tokens), about
        # $0.000018, and costs about $0.000008 (42 + 7 tokens, 32 cached): $0.0002 pays for 22.
        res = runner.run(store, _target(srv.base_url, max_tokens=16), ds, ["exact"],
                         runner.RunOptions(concurrency=2, budget_usd=0.0002, retry=FAST))
    assert res.status == "budget" and 10 < res.answered < 30
    assert res.answered + res.failed + res.not_run == 40
    assert res.cost_usd <= 0.0002
    n = store.scalar("SELECT count(*) FROM experiment_results WHERE run_id = ?", [res.run_id])
    assert n == res.answered + res.failed


@pytest.mark.slow
def test_cancel_keeps_what_is_done(store, tmp_path):
    ds = datasets.import_file(store, "qa", _qa_file(tmp_path, 60)).dataset

    def progress(frac, msg):
        if frac > 0:
            raise KeyboardInterrupt("cancelled")

    with openai_server(lambda body: Reply(content="x", delay_s=0.05)) as srv, \
            pytest.raises(KeyboardInterrupt):
        runner.run(store, _target(srv.base_url), ds, ["exact"],
                   runner.RunOptions(concurrency=2, flush_every_s=0.2), progress)
    status, answered, not_run = store.rows(
        "SELECT status, answered, not_run FROM experiment_runs")[0]
    assert status == "cancelled" and 0 < answered < 60 and not_run == 60 - answered


def test_app_entry_point_target(store, tmp_path, monkeypatch):
    (tmp_path / "myapp.py").write_text(
        "def answer(text, item):\n"
        "    if 'boom' in text:\n        raise RuntimeError('tool failed')\n"
        "    return {'output': text.upper(), 'model_version': 'rag-1', 'cost_usd': 0.001}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("myapp", None)
    path = _jsonl(tmp_path / "s.jsonl", [{"id": "1", "input": "ok", "expected": "OK"},
                                         {"id": "2", "input": "boom", "expected": "BOOM"}])
    ds = datasets.import_file(store, "apps", path).dataset
    t = targets.Target(spec=targets.parse({"name": "rag", "kind": "app",
                                           "entry": "myapp:answer"}, "rag.yaml"))
    res = runner.run(store, t, ds, ["exact"], runner.RunOptions(concurrency=2))
    assert (res.answered, res.failed) == (1, 1) and res.model_versions == {"rag-1"}
    assert res.cost_usd == pytest.approx(0.001)
    err = store.scalar("SELECT error FROM experiment_results WHERE item_key = '2'")
    assert err == "RuntimeError: tool failed"
    assert store.scalar("SELECT count(*) FROM spans WHERE source = 'experiment' "
                        "AND status = 'error' AND error_type = 'RuntimeError'") == 1
    bad = targets.Target(spec=targets.parse({"name": "x", "kind": "app", "entry": "nope.mod:f"},
                                            "x.yaml"))
    with pytest.raises(ExperimentError, match="cannot be imported"):
        runner.run(store, bad, ds, ["exact"])


@pytest.mark.slow
def test_a_judge_as_scorer_grades_the_answers(store, tmp_path, monkeypatch):
    from openai_loopback import judged_text, verdict

    ds = datasets.import_file(store, "qa", _qa_file(tmp_path, 6)).dataset

    def script(body):
        answer = judged_text(body, "output")
        if answer is not None:                      # the judge: 5 for a right answer, else 1
            return verdict(reason="scripted", score=5 if answer.startswith("answer") else 1)
        n = _number(body)
        if n == 5:
            return Reply(status=400)
        return Reply(content=f"answer {n}" if n % 2 == 0 else "no idea")

    with openai_server(script) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        res = runner.run(store, _target(srv.base_url), ds, ["exact", "judge:correctness"],
                         runner.RunOptions(concurrency=2, retry=FAST))
    scores = store.df("""SELECT item_key, value, passed, scorer_version, detail
                         FROM experiment_scores WHERE run_id = ? AND scorer = 'judge:correctness'
                         ORDER BY item_key""", [res.run_id]).set_index("item_key")
    assert list(scores["value"]) == [5.0, 1.0, 5.0, 1.0, 5.0, 1.0]    # q5 failed: the floor
    assert list(scores["passed"]) == [True, False, True, False, True, False]
    assert "the call failed" in scores.loc["q5", "detail"]
    assert scores["scorer_version"].nunique() == 1
    judged = store.scalar("SELECT sum(cost_usd) FROM judge_runs")
    called = store.scalar("SELECT sum(cost_usd) FROM experiment_results WHERE run_id = ?",
                          [res.run_id])
    assert judged > 0 and res.cost_usd == pytest.approx(judged + called)
    with pytest.raises(ExperimentError, match="scorer judge:nope: no judge named 'nope'"):
        runner.run(store, _target("http://127.0.0.1:9/v1"), ds, ["judge:nope"])
    n = store.scalar("""SELECT count(*) FROM grades WHERE source = 'judge' AND target_type = 'item'
                        AND starts_with(target_id, ?)""", [f"experiment:{res.run_id}:"])
    assert n == 5


@pytest.mark.slow
def test_text_to_sql_run_scored_by_execution(store, tmp_path):
    import duckdb

    db = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE orders AS SELECT range AS id, range % 3 AS c FROM range(30)")
    con.close()
    path = _jsonl(tmp_path / "sql.jsonl", [
        {"id": "count", "input": "How many orders?", "expected": "SELECT count(*) FROM orders"},
        {"id": "per", "input": "Orders per customer?",
         "expected": "SELECT c, count(*) FROM orders GROUP BY c"},
        {"id": "file", "input": "Read a file", "expected": "SELECT 1"}])
    ds = datasets.import_file(store, "sql", path).dataset
    answers = {"How many orders?": "```sql\nSELECT COUNT(id) FROM orders;\n```",
               "Orders per customer?": "SELECT c, count(*) FROM orders GROUP BY c HAVING c > 0",
               "Read a file": "SELECT * FROM read_text('/etc/hostname')"}
    with openai_server(lambda body: Reply(content=answers[body["messages"][-1]["content"]])) as srv:
        t = _target(srv.base_url, template="{{ input }}", database=str(db))
        res = runner.run(store, t, ds, ["sql", "exact"], runner.RunOptions(concurrency=2))
    got = store.df("""SELECT item_key, value, detail FROM experiment_scores
                      WHERE run_id = ? AND scorer = 'sql'""", [res.run_id]).set_index("item_key")
    assert got.loc["count", "value"] == 1.0                    # written differently: right
    assert got.loc["per", "value"] == 0.0 and got.loc["per", "detail"].startswith("different")
    assert got.loc["file", "value"] == 0.0 and "Permission" in got.loc["file", "detail"]
