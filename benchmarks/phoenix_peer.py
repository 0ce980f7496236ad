"""Arize Phoenix as the Monitor page's peer in ``bench_monitor_page.py --phoenix PYTHON``.

Phoenix is never a project dependency: it runs from a virtual environment of its own (its
Python given on the command line), on loopback ports, with its database in ``out/``. The
same spans as the Monitor's demo database go in over OTLP/HTTP (protobuf), mapped to
OpenInference attributes (span kind, model, token counts, input and output text, session,
error status), once per database: the working folder keeps them for later runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

PROJECT = "goldenloop-demo"
BATCH = 2_000
KINDS = {"llm": "LLM", "agent": "AGENT", "retrieval": "RETRIEVER", "tool": "TOOL"}
COLUMNS = ("trace_id, span_id, parent_span_id, session_id, user_id, kind, name, provider, "
           "model, model_version, start_time, end_time, input_tokens, output_tokens, status, "
           "error_type, error_message, last_user_message, output")


def _value(v):
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    return AnyValue(string_value=str(v))


def _attributes(r: dict) -> list:
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue

    attrs = {"openinference.span.kind": KINDS.get(r["kind"], "CHAIN"),
             "session.id": r["session_id"], "user.id": r["user_id"],
             "llm.model_name": r["model_version"] or r["model"], "llm.provider": r["provider"],
             "llm.token_count.prompt": r["input_tokens"],
             "llm.token_count.completion": r["output_tokens"],
             "input.value": r["last_user_message"], "output.value": r["output"]}
    if r["input_tokens"] is not None and r["output_tokens"] is not None:
        attrs["llm.token_count.total"] = r["input_tokens"] + r["output_tokens"]
    return [KeyValue(key=k, value=_value(v)) for k, v in attrs.items() if v is not None]


def _nanos(t) -> int:
    # Stored times are naive UTC.
    return int(t.timestamp() * 1e9) if t.tzinfo else int((t - _EPOCH).total_seconds() * 1e9)


def _span(r: dict):
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    failed = r["status"] in ("error", "timeout")
    return Span(
        trace_id=bytes.fromhex(r["trace_id"]), span_id=bytes.fromhex(r["span_id"]),
        parent_span_id=bytes.fromhex(r["parent_span_id"]) if r["parent_span_id"] else b"",
        name=r["name"] or r["kind"], kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=_nanos(r["start_time"]),
        end_time_unix_nano=_nanos(r["end_time"] or r["start_time"]),
        attributes=_attributes(r),
        status=Status(code=Status.STATUS_CODE_ERROR if failed else Status.STATUS_CODE_OK,
                      message=(r["error_message"] or r["error_type"] or "") if failed else ""))


def requests(db: Path, since=None) -> Iterator[tuple[int, bytes]]:
    """The spans of the database (those from ``since`` on, when given) as OTLP request bodies
    of ``BATCH`` spans, newest first: a window of the last days is complete first."""
    import duckdb
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

    resource = Resource(attributes=[KeyValue(key="openinference.project.name",
                                             value=AnyValue(string_value=PROJECT))])
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute(f"SELECT {COLUMNS} FROM spans WHERE start_time >= ? "
                          "ORDER BY start_time DESC", [since or _EPOCH])
        names = [d[0] for d in cur.description]
        while rows := cur.fetchmany(BATCH):
            spans = [_span(dict(zip(names, row, strict=True))) for row in rows]
            body = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
                resource=resource, scope_spans=[ScopeSpans(spans=spans)])])
            yield len(spans), body.SerializeToString()
    finally:
        con.close()


def graphql(url: str, query: str) -> dict:
    req = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())["data"]


def project(url: str, since=None) -> tuple[str, int] | None:
    """The demo project's id and its number of spans (from ``since`` on, when given), or None
    before any arrived."""
    window = f'(timeRange: {{start: "{since:%Y-%m-%dT%H:%M:%S}Z"}})' if since else ""
    data = graphql(url, f"{{ projects {{ edges {{ node {{ id name recordCount{window} }} }} }} }}")
    for edge in data["projects"]["edges"]:
        if edge["node"]["name"] == PROJECT:
            return edge["node"]["id"], int(edge["node"]["recordCount"])
    return None


def send(url: str, body: bytes, attempts: int = 600) -> None:
    """POST one OTLP body; Phoenix answers 503 while its insert queue is full: wait, retry."""
    import urllib.error

    for _ in range(attempts):
        req = urllib.request.Request(f"{url}/v1/traces", data=body,
                                     headers={"Content-Type": "application/x-protobuf"})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                resp.read()
            return
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                raise
        time.sleep(1)
    raise TimeoutError("Phoenix stayed at capacity")


def load(url: str, db: Path, since=None, timeout_s: float = 3600) -> tuple[int, float]:
    """Send the database's spans (from ``since`` on, when given) unless Phoenix holds them
    already: how many, and the seconds until Phoenix counted them all (0 when they were
    there)."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        spans = con.execute("SELECT count(*) FROM spans WHERE start_time >= ?",
                            [since or _EPOCH]).fetchone()[0]
    found = project(url, since)
    if found and found[1] >= spans:
        return spans, 0.0
    t = time.perf_counter()
    for _, body in requests(db, since):
        send(url, body)
    deadline = time.monotonic() + timeout_s
    while (found := project(url, since)) is None or found[1] < spans:
        if time.monotonic() > deadline:
            raise TimeoutError(f"Phoenix holds {found} of {spans} spans")
        time.sleep(2)
    return spans, time.perf_counter() - t


# Phoenix's gRPC receiver binds every interface ("[::]"); the benchmark's servers listen on
# loopback only, so the launcher binds it to 127.0.0.1 before Phoenix starts.
LAUNCHER = """
import runpy, sys
import grpc.aio
_server = grpc.aio.server
def _loopback(*args, **kwargs):
    server = _server(*args, **kwargs)
    add = server.add_insecure_port
    server.add_insecure_port = lambda address: add(address.replace("[::]", "127.0.0.1"))
    return server
grpc.aio.server = _loopback
sys.argv = ["phoenix", "serve"]
runpy.run_module("phoenix.server.main", run_name="__main__")
"""


@contextmanager
def serving(python: str, workdir: Path, log: Path) -> Iterator[tuple[str, float]]:
    """Phoenix on loopback ports with its database in ``workdir``; its URL and the seconds
    from spawn to answering."""
    import browser_support as bs

    workdir.mkdir(parents=True, exist_ok=True)
    port, grpc = bs.free_port(), bs.free_port()
    env = {**os.environ, "PHOENIX_WORKING_DIR": str(workdir), "PHOENIX_HOST": "127.0.0.1",
           "PHOENIX_PORT": str(port), "PHOENIX_GRPC_PORT": str(grpc),
           "PHOENIX_GRPC_HOST": "127.0.0.1", "PHOENIX_TELEMETRY_ENABLED": "false",
           "PHOENIX_ENABLE_PROMETHEUS": "false"}
    env.pop("PYTHONPATH", None)
    url = f"http://127.0.0.1:{port}"
    t = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen([python, "-c", LAUNCHER], env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Phoenix exited with {proc.returncode}: see {log.name}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"Phoenix did not answer: see {log.name}")
            time.sleep(0.5)
        yield url, time.perf_counter() - t
    finally:
        bs.stop(proc)


@contextmanager
def peer(python: str | None, db: Path, workdir: Path, days: int | None = None
         ) -> Iterator[dict | None]:
    """Phoenix holding the spans of ``db`` (sent once: ``workdir`` keeps them; with ``days``,
    those of the last ``days`` days of the data), or None without ``python``: its URLs,
    start-up seconds, spans held (all, and of the days sent) and seconds taken to send them."""
    if python is None:
        yield None
        return
    since = None
    if days is not None:
        import duckdb

        with duckdb.connect(str(db), read_only=True) as con:
            last = con.execute("SELECT max(start_time) FROM spans").fetchone()[0]
        since = last - timedelta(days=days)
    with serving(python, workdir, workdir.parent / "phoenix.log") as (url, up):
        took = load(url, db, since)[1]
        project_id, held = project(url)
        yield {"url": url, "startup_s": round(up, 3), "spans": held, "load_s": round(took, 1),
               "since": str(since) if since else None,
               "spans_since": project(url, since)[1] if since else held,
               "metrics_url": f"{url}/projects/{project_id}/metrics", "up_at": time.monotonic()}


# Phoenix's Metrics tab is drawn: chart panels are on the page, and each panel within the
# window holds a drawn chart (Recharts' SVG, with data or Phoenix's "no data" overlay) and no
# loading skeleton (role "status", label "loading"). Panels below the window stay skeletons
# until scrolled to (Phoenix defers them), as the Monitor's other tabs wait for a click.
READY = """() => {
    const panels = Array.from(document.querySelectorAll('section[data-testid="chart-panel"]'))
        .filter(p => p.getBoundingClientRect().top < window.innerHeight);
    if (panels.length === 0) return false;
    for (const p of panels) {
        if (p.querySelector('[role="status"][aria-label="loading"]')) return false;
        if (!p.querySelector('svg.recharts-surface')) return false;
    }
    return true;
}"""
PANELS = """() => ({panels: document.querySelectorAll('section[data-testid="chart-panel"]').length,
    shown: Array.from(document.querySelectorAll('section[data-testid="chart-panel"]'))
        .filter(p => p.getBoundingClientRect().top < window.innerHeight).length,
    empty: document.querySelectorAll('[data-empty="true"]').length,
    deferred: document.querySelectorAll('.deferred-chart-panel').length})"""


def draw_time(page, url: str, timeout_s: float = 120) -> float:
    """Seconds from navigating to the Metrics tab until every chart panel is drawn."""
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_function(READY, timeout=timeout_s * 1000, polling=20)
    return time.perf_counter() - t


def _epoch():
    from datetime import datetime
    return datetime(1970, 1, 1)


_EPOCH = _epoch()
