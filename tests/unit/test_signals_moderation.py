"""Moderation through the real `openai` client against a loopback OpenAI-compatible server:
configuration by file and environment variable name, batching, per-side results, the cap per
run, idempotence, and the errors users can fix."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pytest

from goldenloop.ingest.loader import import_table
from goldenloop.scorers import moderation, run
from goldenloop.store import Store
from goldenloop.store import jobs as job_sql
from goldenloop.workers.handlers import HANDLERS
from goldenloop.workers.jobs import run_job

KEY_ENV = "GOLDENLOOP_TEST_MODERATION_KEY"
KEY = "sk-test-loopback-0123456789"
ANSWERING_MODEL = "omni-moderation-2024-09-26"
CATEGORIES = ("harassment", "harassment/threatening", "hate", "violence")


@dataclass
class Endpoint:
    url: str
    requests: list[dict] = field(default_factory=list)
    fail_with: int | None = None  # HTTP status to answer instead of results


def _verdict(text: str) -> dict:
    """The stand-in model: insults are harassment, "hurt" is a threat."""
    scores = dict.fromkeys(CATEGORIES, 0.01)
    if "idiot" in text:
        scores["harassment"] = 0.93
    if "hurt" in text:
        scores["harassment/threatening"] = scores["violence"] = 0.88
    flags = {c: s > 0.5 for c, s in scores.items()}
    return {"flagged": any(flags.values()), "categories": flags, "category_scores": scores}


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    state = Endpoint("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                   "body": body})
            if state.fail_with:
                return self._send(state.fail_with, {"error": {"message": "bad request",
                                                              "type": "invalid_request_error"}})
            if self.path != "/v1/moderations":
                return self._send(404, {"error": {"message": "not found"}})
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            self._send(200, {"id": "modr-1", "model": ANSWERING_MODEL,
                             "results": [_verdict(t) for t in texts]})

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _configure(db: Path, endpoint: Endpoint, **extra) -> Path:
    cfg = db.parent / moderation.CONFIG_FILE
    cfg.write_text(json.dumps({"base_url": endpoint.url, "api_key_env": KEY_ENV,
                               "batch_size": 4, **extra}))
    return cfg


def _spans(store: Store) -> None:
    users = ["where is my order, idiot", "thanks!", None, "I will hurt you", "hello"]
    outputs = ["It ships today.", None, "Sorry, idiot.", "I'm sorry, but I can't help with that.",
               "   "]
    n = len(users)
    import_table(store, pa.table({
        "trace_id": [f"t{i}" for i in range(n)], "span_id": ["s"] * n,
        "start_time": pa.array([1_735_689_600 + i for i in range(n)], pa.int64()),
        "last_user_message": users, "output": outputs,
    }), source="test", origin="test")


def _rows(store: Store) -> list[tuple]:
    return store.rows(
        """SELECT s.last_user_message, g.user_moderation_flagged, g.user_moderation_score,
                  g.output_moderation_flagged, g.moderation_categories
           FROM spans s JOIN signals g USING (span_key) ORDER BY s.trace_id""")


@pytest.mark.slow
def test_the_score_job_adds_moderation_per_side(store, endpoint, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    _configure(store.path, endpoint)
    _spans(store)
    jid = store.write(job_sql.create, "score", {}, "test")
    run_job(store, store.write(job_sql.claim_next), HANDLERS)
    job = store.write(job_sql.get, jid)
    assert job.status == "done", job.error
    assert job.result["moderated"] == 5 and job.result["moderation_flagged"] == 3

    rows = _rows(store)
    assert [r[1] for r in rows] == [True, False, None, True, False]
    assert rows[0][2] == pytest.approx(0.93)
    assert [r[3] for r in rows] == [False, None, True, False, None]  # blank output: not sent
    assert json.loads(rows[3][4]) == {"user": ["harassment/threatening", "violence"],
                                      "output": []}
    versions = {json.loads(v)["moderation"] for (v,) in store.rows(
        "SELECT scorer_versions FROM signals")}
    assert versions == {f"openai-moderation {ANSWERING_MODEL}"}

    # Requests went to the loopback server with the key from the environment, in batches.
    texts = [t for r in endpoint.requests for t in r["body"]["input"]]
    assert len(texts) == 7 and all(len(r["body"]["input"]) <= 4 for r in endpoint.requests)
    assert {r["auth"] for r in endpoint.requests} == {f"Bearer {KEY}"}
    assert {r["body"]["model"] for r in endpoint.requests} == {"omni-moderation-latest"}

    # Running again sends nothing: every span was moderated.
    endpoint.requests.clear()
    assert run.moderate_spans(store, moderation.find_config(store.path)).spans == 0
    assert endpoint.requests == []


@pytest.mark.slow
def test_a_run_moderates_at_most_its_cap_newest_first(store, endpoint, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    _spans(store)
    run.score_spans(store)
    config = moderation.ModerationConfig(base_url=endpoint.url, api_key_env=KEY_ENV,
                                         max_spans_per_run=2)
    assert run.moderate_spans(store, config).spans == 2
    moderated = [r[0] for r in _rows(store) if r[1] is not None or r[3] is not None]
    assert moderated == ["I will hurt you", "hello"]  # the two newest
    assert run.moderate_spans(store, config).spans == 2
    assert run.moderate_spans(store, config).spans == 1


@pytest.mark.slow
def test_a_missing_key_fails_the_job_and_keeps_offline_signals(store, endpoint, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    _configure(store.path, endpoint)
    _spans(store)
    jid = store.write(job_sql.create, "score", {}, "test")
    run_job(store, store.write(job_sql.claim_next), HANDLERS)
    job = store.write(job_sql.get, jid)
    assert job.status == "failed" and KEY_ENV in job.error and "Traceback" not in job.error
    assert store.scalar("SELECT count(*) FROM signals WHERE user_offensive IS NOT NULL") == 4
    assert endpoint.requests == []


@pytest.mark.slow
def test_an_endpoint_error_is_named(store, endpoint, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    _spans(store)
    run.score_spans(store)
    endpoint.fail_with = 400
    config = moderation.ModerationConfig(base_url=endpoint.url, api_key_env=KEY_ENV)
    with pytest.raises(moderation.ModerationError, match="moderation endpoint failed") as exc:
        run.moderate_spans(store, config)
    assert KEY not in str(exc.value)
    assert store.scalar("SELECT count(*) FROM signals WHERE user_moderation_flagged IS NOT NULL") == 0


def test_a_key_in_the_config_file_is_refused(tmp_path):
    cfg = tmp_path / "moderation.yaml"
    cfg.write_text(f"model: omni-moderation-latest\napi_key: {KEY}\n")
    with pytest.raises(moderation.ModerationError, match="name it in api_key_env"):
        moderation.ModerationConfig.load(cfg)


@pytest.mark.slow
def test_without_a_config_nothing_is_sent(store, endpoint):
    _spans(store)
    assert moderation.find_config(store.path) is None
    result = run.score_job(store, {}, lambda _f, _m: None)
    assert "moderated" not in result and endpoint.requests == []


def test_a_broken_config_fails_the_job_after_the_offline_signals(store):
    (store.path.parent / moderation.CONFIG_FILE).write_text("batch_size: lots\n")
    _spans(store)
    jid = store.write(job_sql.create, "score", {}, "test")
    run_job(store, store.write(job_sql.claim_next), HANDLERS)
    job = store.write(job_sql.get, jid)
    assert job.status == "failed" and "bad moderation config" in job.error
    assert store.scalar("SELECT count(*) FROM signals") == 5


@pytest.mark.slow
def test_moderation_on_clickhouse_matches_duckdb(store, endpoint, monkeypatch, tmp_path,
                                                 tmp_path_factory):
    """The score job on a ClickHouse span store (chdb): the same verdicts per side as on
    DuckDB, and a later offline rescore keeps them."""
    from spanstore_support import chdb_url

    from goldenloop.schema import open_store
    from goldenloop.spanstore import open_span_store
    from goldenloop.spanstore.ingest import import_into

    monkeypatch.setenv(KEY_ENV, KEY)
    _configure(store.path, endpoint)
    _spans(store)
    run.score_job(store, {}, lambda _f, _m: None)
    want = _rows(store)
    with open_store(tmp_path / "ch" / "workflow.duckdb") as workflow:
        _configure(workflow.path, endpoint)
        ch = open_span_store(chdb_url(tmp_path_factory), workflow)
        source = tmp_path / "spans.parquet"
        import pyarrow.parquet as pq

        pq.write_table(store.cursor().sql("SELECT trace_id, span_id, start_time, "
                                          "last_user_message, output FROM spans").to_arrow_table(),
                       source)
        import_into(workflow, ch, source)
        out = run.score_job(workflow, {}, lambda _f, _m: None, ch)
        assert out["moderated"] == 5 and out["moderation_flagged"] == 3
        run.score_job(workflow, {"rescore": True}, lambda _f, _m: None, ch)
        rows = [tuple(r.values()) for r in ch.arrow("""
            SELECT s.last_user_message, g.user_moderation_flagged, g.user_moderation_score,
                   g.output_moderation_flagged, g.moderation_categories
            FROM spans AS s FINAL JOIN (SELECT * FROM signals FINAL) AS g USING (span_key)
            ORDER BY s.trace_id""").to_pylist()]
    assert [r[1] for r in rows] == [r[1] for r in want]
    assert [r[3] for r in rows] == [r[3] for r in want]
    assert [r[2] for r in rows] == pytest.approx([r[2] for r in want])
    assert [json.loads(r[4]) for r in rows] == [json.loads(r[4]) for r in want]
