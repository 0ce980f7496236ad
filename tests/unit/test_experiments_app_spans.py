"""An app target instrumented with goldenloop's SDK: the spans it emits while a run calls it
join the run's trace for the item (under the run's span for the call), carry the run's
source and metadata, and stay out of production figures; the same app called outside a run
still writes ordinary spans to its inbox. Real parts: the real ``openai`` client wrapped by
the SDK against a loopback endpoint, a real store, the owner's inbox import."""

from __future__ import annotations

import json
import sys

import pytest
from openai_loopback import REPLY, VERSION, openai_server

from goldenloop import sdk
from goldenloop.config import resolve_paths
from goldenloop.experiments import datasets, runner, targets
from goldenloop.metrics import SpanFilter, totals
from goldenloop.workers.inbox import pending_files, process_file

APP = '''
import os

import openai

from goldenloop import sdk


@sdk.trace(kind="retrieval")
def retrieve(question):
    return ["doc about " + question]


@sdk.trace
def answer(text, item):
    docs = retrieve(text)
    if "boom" in text:
        raise RuntimeError("the tool failed")
    client = sdk.wrap_openai(openai.OpenAI(base_url=os.environ["MYAPP_BASE_URL"],
                                           api_key="sk-test", max_retries=0))
    r = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": docs[0]}])
    return r.choices[0].message.content
'''


@pytest.fixture
def app_module(store, tmp_path, monkeypatch):
    paths = resolve_paths(store.path).ensure()
    sdk.configure(paths.inbox, app="rag-app", batch_seconds=3600)  # only flush() writes
    (tmp_path / "ragapp_sdk.py").write_text(APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("ragapp_sdk", None)
    with openai_server() as server:
        monkeypatch.setenv("MYAPP_BASE_URL", server.base_url)
        yield paths
    sys.modules.pop("ragapp_sdk", None)


def _spans(store, trace_id):
    cols = ["span_id", "parent_span_id", "kind", "name", "app", "environment", "source",
            "status", "model_version", "output", "metadata", "error_type", "session_id"]
    rows = store.rows(f"SELECT {', '.join(cols)} FROM spans WHERE trace_id = ? "
                      "ORDER BY start_time, span_id", [trace_id])
    return [dict(zip(cols, r, strict=True)) for r in rows]


@pytest.mark.parametrize("source,suite", [("experiment", None), ("canary", "nightly")])
@pytest.mark.slow
def test_app_spans_join_the_items_trace_and_stay_internal(store, tmp_path, app_module,
                                                          source, suite):
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "input": "refunds", "expected": REPLY},
        {"id": "b", "input": "shipping", "expected": REPLY},
        {"id": "c", "input": "boom", "expected": REPLY}]) + "\n")
    ds = datasets.import_file(store, "rag-items", path).dataset
    target = targets.Target(spec=targets.parse(
        {"name": "rag", "kind": "app", "entry": "ragapp_sdk:answer"}, "rag.yaml"))
    res = runner.run(store, target, ds, ["exact"],
                     runner.RunOptions(concurrency=3, source=source, suite=suite))
    assert (res.answered, res.failed) == (2, 1)

    results = dict(store.rows("SELECT item_key, trace_id FROM experiment_results "
                              "WHERE run_id = ?", [res.run_id]))
    for key in ("a", "b"):
        spans = _spans(store, results[key])
        by_kind = {s["kind"]: s for s in spans}
        assert sorted(by_kind) == ["agent", "chain", "llm", "retrieval"], spans
        run_span, entry = by_kind["agent"], by_kind["chain"]
        # the app's root span hangs under the run's span for the call; its children under it
        assert run_span["span_id"] == "attempt-1" and run_span["parent_span_id"] is None
        assert entry["name"] == "answer" and entry["parent_span_id"] == "attempt-1"
        assert by_kind["retrieval"]["parent_span_id"] == entry["span_id"]
        assert by_kind["llm"]["parent_span_id"] == entry["span_id"]
        # what the SDK rendered from the real response
        assert by_kind["llm"]["model_version"] == VERSION and by_kind["llm"]["output"] == REPLY
        for s in (entry, by_kind["retrieval"], by_kind["llm"]):
            meta = json.loads(s["metadata"])
            assert (s["source"], s["environment"], s["app"]) == (source, source, "rag-app")
            assert meta["experiment_run"] == res.run_id and meta["item_key"] == key
            assert meta["target_version"] == target.version and meta["suite"] == suite
            assert s["session_id"] == f"{source}-run-{res.run_id}"
    # a failing item's app spans are linked too, with the app's error
    failed = {s["kind"]: s for s in _spans(store, results["c"])}
    assert failed["chain"]["status"] == "error" and failed["chain"]["error_type"] == "RuntimeError"
    assert failed["retrieval"]["status"] == "ok" and "llm" not in failed

    # nothing of the run went to the app's inbox, and production figures do not count it
    assert sdk.flush() == 0 and not pending_files(app_module.inbox)
    assert totals(store, SpanFilter()).requests == 0
    # requests are LLM calls: the app's two (the run's span for an app call is an agent span)
    assert totals(store, SpanFilter(include_internal=True)).requests == 2

    # outside a run, the same app traces production traffic as before
    from ragapp_sdk import answer
    assert answer("returns", {}) == REPLY
    assert sdk.flush() == 3
    for p in pending_files(app_module.inbox):
        process_file(store, app_module, p)
    prod = store.rows("SELECT DISTINCT source, trace_id FROM spans WHERE app = 'rag-app' "
                      "AND NOT list_contains(?, trace_id)", [list(results.values())])
    assert len(prod) == 1 and prod[0][0] == "sdk"
    assert totals(store, SpanFilter()).requests == 1


@pytest.mark.slow
def test_an_app_that_names_itself_nothing_gets_the_runs_app_name(store, tmp_path, app_module,
                                                                 monkeypatch):
    monkeypatch.delenv("GOLDENLOOP_APP", raising=False)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    sdk.configure(app_module.inbox, batch_seconds=3600)
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"id": "a", "input": "refunds", "expected": REPLY}) + "\n")
    ds = datasets.import_file(store, "one", path).dataset
    target = targets.Target(spec=targets.parse(
        {"name": "rag", "kind": "app", "entry": "ragapp_sdk:answer"}, "rag.yaml"))
    runner.run(store, target, ds, ["exact"])
    apps = store.rows("SELECT DISTINCT app FROM spans")
    assert apps == [("goldenloop-experiment",)]
