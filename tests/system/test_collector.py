"""The OTLP/HTTP receiver with real parts: the OpenTelemetry SDK's own OTLP/HTTP exporter sends
to it on loopback, the owner's inbox imports its spool files into a real store, and the spans
match, field for field, what the file import makes of the same spans."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToJson
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status as OtelStatus
from opentelemetry.trace import StatusCode
from otlp_support import COMPARED, T0, free_port, import_inbox, otlp_span, request

from goldenloop.collector import Receiver
from goldenloop.config import resolve_paths
from goldenloop.ingest import import_file
from goldenloop.schema import open_store
from goldenloop.workers.inbox import pending_files

RESOURCE = {"service.name": "weather-bot", "service.version": "1.4.2",
            "deployment.environment.name": "production"}
# Columns the store fills itself, or that say where a row came from.
NOT_COMPARED = {"span_key", "import_id", "ingested_at", "source"}


@pytest.fixture
def receiver(store):
    inbox = resolve_paths(store.path).ensure().inbox
    server = Receiver(("127.0.0.1", 0), inbox, max_body=1 << 20)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}/v1/traces"
    yield server
    server.shutdown()
    server.server_close()


def provider(url: str, **exporter_options) -> tuple[TracerProvider, InMemorySpanExporter]:
    """A tracer provider exporting to ``url`` and keeping a copy of each finished span."""
    tp = TracerProvider(resource=Resource.create(RESOURCE))
    tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=url, **exporter_options)))
    memory = InMemorySpanExporter()
    tp.add_span_processor(SimpleSpanProcessor(memory))
    return tp, memory


def rows(store, where: str = "TRUE") -> list[dict]:
    cur = store.cursor().execute(f"SELECT * FROM spans WHERE {where} ORDER BY start_time, span_id")
    names = [d[0] for d in cur.description]
    return [{k: v for k, v in zip(names, r, strict=True) if k not in NOT_COMPARED}
            for r in cur.fetchall()]


def same_as_file_import(store, tmp_path: Path, doc_json: str) -> None:
    """The receiver's rows equal what ``goldenloop import`` makes of the same request."""
    export = tmp_path / "export.json"
    export.write_text(doc_json)
    with open_store(tmp_path / "file-import.duckdb") as other:
        result = import_file(other, export)
        assert result.quarantined == 0
        assert rows(store) == rows(other)


def test_the_sdk_exporter_sends_both_conventions_mapped_like_the_file_import(
        receiver, store, tmp_path, shared_data):
    tp, memory = provider(receiver.url)
    tracer = tp.get_tracer("weather")
    for convention in ("otel_genai", "openinference"):
        attrs = json.loads((shared_data / "traces" / f"{convention}_client_span_tool_calls.json")
                           .read_text())
        # The same times for both, as in the file-import test these fields come from.
        tracer.start_span("chat gpt-4", attributes=attrs, start_time=T0).end(T0 + 1_500_000_000)
    assert tp.force_flush()
    assert set(import_inbox(store, receiver)) == {"done"}

    genai, oi = rows(store)
    for field in COMPARED:
        assert genai[field] == oi[field], field
    assert (genai["app"], genai["model"], genai["model_version"]) == \
        ("weather-bot", "gpt-4", "gpt-4-0613")
    assert json.loads(genai["messages"]) == json.loads(oi["messages"])
    same_as_file_import(store, tmp_path, MessageToJson(encode_spans(memory.get_finished_spans())))


def test_traces_nest_errors_count_and_gzip_works(receiver, store, tmp_path):
    tp, memory = provider(receiver.url, compression=Compression.Gzip)
    tracer = tp.get_tracer("app")
    with tracer.start_as_current_span("agent"):
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 3,
                "gen_ai.usage.cache_read.input_tokens": 8,
                "gen_ai.usage.reasoning.output_tokens": 1, "session.id": "conv-9",
                "user.id": "u-1"}):
            pass
        with tracer.start_as_current_span("chat slow") as span:
            span.record_exception(TimeoutError("Request timed out."))
            span.set_status(OtelStatus(StatusCode.ERROR, "Request timed out."))
    assert tp.force_flush()
    # The exporter saw 200 for each span: each request is already on disk, in the journal.
    assert len(receiver.journal.pending()) + receiver.counters.files >= 1
    assert receiver.settle() and receiver.counters.spans == 3
    import_inbox(store)

    agent, chat, slow = (rows(store, f"name = '{n}'")[0] for n in ("agent", "chat gpt-4o-mini",
                                                                  "chat slow"))
    assert chat["parent_span_id"] == agent["span_id"] == slow["parent_span_id"]
    assert (chat["input_tokens"], chat["output_tokens"], chat["cached_input_tokens"],
            chat["reasoning_tokens"]) == (12, 3, 8, 1)
    assert (chat["session_id"], chat["user_id"], chat["kind"]) == ("conv-9", "u-1", "llm")
    assert (slow["status"], slow["error_type"]) == ("timeout", "TimeoutError")
    assert store.scalar("SELECT count(DISTINCT source) FROM spans") == 1
    assert store.scalar("SELECT min(source) FROM spans") == "otlp"
    same_as_file_import(store, tmp_path, MessageToJson(encode_spans(memory.get_finished_spans())))


def post(url: str, body: bytes, content_type: str = "application/json",
         headers: dict | None = None, method: str = "POST") -> tuple[int, bytes, dict]:
    req = urllib.request.Request(url, data=body if method == "POST" else None, method=method,
                                 headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def test_otlp_json_bodies_are_accepted_and_stored_like_the_file_import(receiver, store,
                                                                       tmp_path):
    doc = request(
        otlp_span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                   "gen_ai.usage.input_tokens": 5,
                   "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [
                       {"type": "text", "content": "hi"}]}])},
                  trace="0af7651916cd43dd8448eb211c80319c", span="b7ad6b7169203331"),
        otlp_span({"openinference.span.kind": "TOOL", "tool.name": "lookup",
                   "input.value": "{\"q\": 1}", "output.value": "found"},
                  trace="0af7651916cd43dd8448eb211c80319c", span="00f067aa0ba902b7",
                  parent="b7ad6b7169203331", name="lookup"))
    status, body, _ = post(receiver.url, json.dumps(doc).encode())
    assert (status, json.loads(body)) == (200, {})
    assert import_inbox(store, receiver) == ["done"]
    tool = rows(store, "kind = 'tool'")[0]
    assert (tool["output"], tool["parent_span_id"]) == ("found", "b7ad6b7169203331")
    same_as_file_import(store, tmp_path, json.dumps(doc))


# 2 MiB inflated from about 2 KiB: over the 1 MiB limit. mtime=0: the same bytes, and so the same
# test ids, in every process (parallel workers must collect the same tests).
BOMB = gzip.compress(b"\0" * (2 << 20), mtime=0)


@pytest.mark.parametrize(("method", "path", "ctype", "body", "headers", "status", "says"), [
    ("GET", "/v1/traces", "application/json", b"", {}, 405, "only POST"),
    ("POST", "/v1/metrics", "application/json", b"{}", {}, 404, "/v1/traces"),
    ("POST", "/v1/traces", "text/plain", b"{}", {}, 415, "unsupported content type"),
    ("POST", "/v1/traces", "application/json", b"x" * ((1 << 20) + 1), {}, 413, "exceeds"),
    ("POST", "/v1/traces", "application/json", BOMB, {"Content-Encoding": "gzip"}, 413,
     "decompressed"),
    ("POST", "/v1/traces", "application/json", b"{\"resourceSpans\": [", {}, 400, "not valid JSON"),
    ("POST", "/v1/traces", "application/json", b"[1, 2]", {}, 400, "not an ExportTrace"),
    ("POST", "/v1/traces", "application/json", b"{\"resourceSpans\": 7}", {}, 400, "not a list"),
    ("POST", "/v1/traces", "application/json", b"not gzip", {"Content-Encoding": "gzip"}, 400,
     "not valid gzip"),
    ("POST", "/v1/traces", "application/json", b"{}", {"Content-Encoding": "br"}, 415, "br"),
], ids=lambda v: None if isinstance(v, (str, int)) else "")
def test_bad_requests_are_refused_with_the_right_status_and_a_message(
        receiver, method, path, ctype, body, headers, status, says):
    url = receiver.url.replace("/v1/traces", path)
    got, answer, _ = post(url, body, ctype, headers, method)
    assert got == status
    assert says in json.loads(answer)["message"]
    assert not pending_files(receiver.inbox)


def test_a_bad_protobuf_body_gets_a_protobuf_status(receiver):
    got, answer, headers = post(receiver.url, b"\xff\xff\xff\xff", "application/x-protobuf")
    assert got == 400 and headers["Content-Type"] == "application/x-protobuf"
    status = Status.FromString(answer)
    assert status.code == 3 and "not an ExportTraceServiceRequest" in status.message


def test_a_full_or_broken_disk_answers_503_so_the_exporter_retries(tmp_path):
    server = Receiver(("127.0.0.1", 0), tmp_path / "inbox")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.journal.dir.rmdir()
    server.journal.dir.write_text("a file where the journal folder should be")
    try:
        doc = request(otlp_span({}, trace="0af7651916cd43dd8448eb211c80319c",
                                span="b7ad6b7169203331"))
        got, answer, headers = post(f"http://127.0.0.1:{server.server_port}/v1/traces",
                                    json.dumps(doc).encode())
        assert got == 503 and headers["Retry-After"] == "1"
        assert "cannot write the request to disk" in json.loads(answer)["message"]
    finally:
        server.shutdown()
        server.server_close()


def test_goldenloop_collect_runs_receives_and_stops_cleanly(tmp_path):
    db = tmp_path / "g.duckdb"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "goldenloop.cli", "collect", "--db", str(db),
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert "OTLP/HTTP traces at" in proc.stdout.readline()
        tp, _ = provider(f"http://127.0.0.1:{port}/v1/traces")
        with tp.get_tracer("cli").start_as_current_span("hello"):
            pass
        assert tp.force_flush()
        tp.shutdown()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "1 requests, 1 spans in 1 spool files; 0 requests refused" in out
    inbox = resolve_paths(db).inbox
    assert len(pending_files(inbox)) == 1
    assert not db.exists()  # the receiver never opens the database


def test_every_attribute_value_kind_reads_the_same_from_protobuf_and_json(receiver, store,
                                                                          tmp_path):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

    def kv(key: str, value: AnyValue) -> KeyValue:
        return KeyValue(key=key, value=value)

    nested = KeyValueList(values=[kv("a", AnyValue(int_value=1)),
                                  kv("b", AnyValue(array_value=ArrayValue(values=[
                                      AnyValue(string_value="x"), AnyValue(bool_value=True)])))])
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", AnyValue(string_value="kinds")))
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = bytes(range(16)), bytes(range(8)), "kinds"
    span.start_time_unix_nano, span.end_time_unix_nano = T0, T0 + 10**9
    span.attributes.extend([
        kv("gen_ai.request.model", AnyValue(string_value="m")),
        kv("gen_ai.usage.input_tokens", AnyValue(int_value=9)),
        kv("gen_ai.request.temperature", AnyValue(double_value=0.5)),
        kv("tag.tags", AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="t")]))),
        kv("custom.map", AnyValue(kvlist_value=nested)),
        kv("custom.list_of_maps", AnyValue(array_value=ArrayValue(values=[
            AnyValue(kvlist_value=nested)]))),
        kv("custom.bytes", AnyValue(bytes_value=b"\x00\xff")),
        kv("custom.empty", AnyValue()),
    ])
    got, _, _ = post(receiver.url, req.SerializeToString(), "application/x-protobuf")
    assert got == 200
    import_inbox(store, receiver)
    (row,) = rows(store)
    attrs = json.loads(row["metadata"])["attributes"]
    assert attrs["custom.map"] == {"a": 1, "b": ["x", True]}
    assert attrs["custom.list_of_maps"] == [{"a": 1, "b": ["x", True]}]
    assert row["tags"] == ["t"] and row["input_tokens"] == 9
    same_as_file_import(store, tmp_path, MessageToJson(req))


def collect(db: Path, port: int, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "goldenloop.cli", "collect", "--db", str(db),
                             "--port", str(port), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert "OTLP/HTTP traces at" in proc.stdout.readline()
    return proc


def test_a_killed_receiver_loses_nothing_it_answered(tmp_path):
    from goldenloop.collector.journal import JOURNAL_DIR

    db, port = tmp_path / "g.duckdb", free_port()
    inbox = resolve_paths(db).inbox
    # Accepted requests wait an hour before their spool file: the kill comes first.
    receiver = collect(db, port, "--spool-seconds", "3600")
    tp, _ = provider(f"http://127.0.0.1:{port}/v1/traces")
    for i in range(5):
        with tp.get_tracer("crash").start_as_current_span(f"step {i}"):
            pass
    assert tp.force_flush()  # five requests, each answered 200
    tp.shutdown()
    receiver.send_signal(signal.SIGKILL)
    receiver.wait()
    assert len(list((inbox / JOURNAL_DIR).glob("*.parquet"))) == 5 and not pending_files(inbox)

    restarted = collect(db, port)  # converts what the killed one had accepted, first
    deadline = time.monotonic() + 30
    while not pending_files(inbox) and time.monotonic() < deadline:
        time.sleep(0.05)
    restarted.send_signal(signal.SIGTERM)
    restarted.communicate(timeout=30)
    with open_store(db) as store:
        assert set(import_inbox(store)) == {"done"}
        assert store.scalar("SELECT count(DISTINCT span_id) FROM spans") == 5
    assert not list((inbox / JOURNAL_DIR).iterdir())
