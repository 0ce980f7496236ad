"""Benchmarks of the producers: the SDK's cost on the caller's thread, sustained ingest
SDK → spool → store, and the OTLP/HTTP receiver fed by one OpenTelemetry exporter while the
owner is killed and restarted.

    python benchmarks/bench_producers.py [--spans 600000] [--producers 2] [--rate 60000]
        [--otlp-spans 60000]

Every part runs in its own process, as in production: the application (SDK or OpenTelemetry
exporter), `goldenloop collect`, and the owner importing the inbox (the inbox watcher the
server runs, without the web app). Results go to stdout and benchmarks/out/producers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEXT = ("Your parcel left our warehouse this morning and should reach you within two working "
        "days; you will get an e-mail with the tracking link as soon as the carrier scans it.")


# -- roles run as child processes -------------------------------------------------------------------
def role_owner(db: str, checkpoint_threshold: str = "") -> None:
    """Import the inbox as the server's watcher does, printing when each file is committed
    and how long it took. ``checkpoint_threshold`` (e.g. 16MB, DuckDB's default) overrides
    the store's (1GB), to show what automatic checkpoints cost."""
    from goldenloop.config import resolve_paths
    from goldenloop.schema import open_store
    from goldenloop.workers.inbox import pending_files, process_file

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    store, paths = open_store(db), resolve_paths(db).ensure()
    if checkpoint_threshold:
        store.con.execute(f"SET checkpoint_threshold = '{checkpoint_threshold}'")
    print("ready", flush=True)
    while not stop.is_set():
        files = pending_files(paths.inbox)
        if not files:
            time.sleep(0.02)
        for p in files[:50]:
            t0 = time.perf_counter()
            outcome = process_file(store, paths, p)
            print(f"{time.time():.6f} {outcome} {p.name} {time.perf_counter() - t0:.6f}",
                  flush=True)
    store.close()


def role_sdk_producer(inbox: str, spans: int, rate: float) -> None:
    """An application traced by the SDK: a root span and a child span per request, paced at
    ``rate`` spans/s (a real app's spans wrap real work; a tight loop only measures how the
    SDK sheds load, which the drop counter reports)."""
    from goldenloop import sdk

    sdk.configure(inbox, app="bench", environment="bench")

    @sdk.trace
    def retrieve(i: int) -> str:
        return TEXT

    @sdk.trace(kind="agent")
    def handle(i: int) -> str:
        return retrieve(i)

    t0 = time.time()
    tick = 0.01
    per_tick = max(1, int(rate * tick / 2))
    for start in range(0, spans // 2, per_tick):
        for i in range(start, min(start + per_tick, spans // 2)):
            handle(i)
        ahead = t0 + (start + per_tick) * 2 / rate - time.time()
        if ahead > 0:
            time.sleep(ahead)
    made = time.time()
    sdk.flush()
    print(json.dumps({"start": t0, "made": made, "flushed": time.time(), **sdk.stats()}))


def role_otel_exporter(url: str, spans: int) -> None:
    """An application instrumented with the OpenTelemetry SDK and its OTLP/HTTP exporter."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    tp = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    # A queue that holds the whole run: a span the exporter drops is not the receiver's loss.
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url, timeout=30),
                                             max_queue_size=spans, max_export_batch_size=512,
                                             schedule_delay_millis=200))
    tracer = tp.get_tracer("bench")
    t0 = time.time()
    for i in range(spans):
        with tracer.start_as_current_span("chat gpt-4o-mini") as s:
            s.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                              "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                              "gen_ai.usage.input_tokens": 120 + i % 50,
                              "gen_ai.usage.output_tokens": 40, "session.id": f"s{i // 10}",
                              "gen_ai.response.finish_reasons": ["stop"], "output": TEXT})
    ok = tp.force_flush(timeout_millis=600_000)
    print(json.dumps({"start": t0, "end": time.time(), "flushed": ok}))
    tp.shutdown()


def role_null_server(durable: bool = False) -> None:
    """An OTLP/HTTP endpoint that reads each body and answers 200 at once: what one exporter
    sends when the receiving end costs nothing (the exporter's own ceiling). With ``durable``
    it first parses the body and writes it durably, as the receiver must before its 200, and
    does nothing else: the ceiling of any receiver that keeps that promise, on this disk."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from goldenloop.collector.decode import PROTOBUF, parse
    from goldenloop.spool import write_durably

    folder = Path(tempfile.mkdtemp())
    count = iter(range(1 << 62))

    class Null(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if durable:
                parse(body, PROTOBUF)
                write_durably(folder, f"{next(count):012d}.pb", lambda fh: fh.write(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Null)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(server.server_port, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


# -- the driver ----------------------------------------------------------------------------------
class Owner:
    """An owner process and the commit times it reports."""

    threshold = ""  # set from --owner-checkpoint-threshold

    def __init__(self, db: Path):
        self.proc = subprocess.Popen([sys.executable, __file__, "--role", "owner", str(db),
                                      self.threshold],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.commits: list[float] = []
        self.busy = 0.0  # seconds spent importing
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            at, _outcome, _name, took = line.split()
            self.commits.append(float(at))
            self.busy += float(took)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=120)


def wait_inbox_empty(inbox: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while any(p.suffix == ".parquet" for p in inbox.iterdir()):
        if time.monotonic() > deadline:
            raise TimeoutError("the owner did not empty the inbox")
        time.sleep(0.05)
    time.sleep(0.2)  # the last file's move is reported just after its commit


def store_counts(db: Path) -> tuple[int, int]:
    from goldenloop.schema import open_store

    with open_store(db) as s:
        return tuple(s.rows("SELECT count(*), count(DISTINCT (trace_id, span_id)) FROM spans")[0])


def bench_overhead() -> dict:
    """Added microseconds per call on the caller's thread: @trace, the OpenAI wrapper around a
    create() that returns at once (the SDK's work alone), and a real client call through
    httpx's mock transport (the same work, amid the client's own)."""
    import httpx2
    import openai
    from openai.types.chat import ChatCompletion

    from goldenloop import sdk
    from goldenloop.sdk.openai_wrap import _chat_chunk, _sync_call, render_chat

    with tempfile.TemporaryDirectory() as tmp:
        sdk.configure(tmp, max_buffer=10_000_000, batch_seconds=3600)
        body = {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": TEXT}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        canned = ChatCompletion.model_validate(body)

        def create(**_kwargs):
            return canned

        def client() -> openai.OpenAI:
            transport = httpx2.MockTransport(lambda _r: httpx2.Response(200, json=body))
            return openai.OpenAI(base_url="http://stub/v1", api_key="x", max_retries=0,
                                 http_client=httpx2.Client(transport=transport))

        plain, wrapped = client(), sdk.wrap_openai(client())
        traced_create = _sync_call(create, "chat", render_chat, _chat_chunk)
        msgs = [{"role": "user", "content": "hi"}]
        return {
            "trace_us": _added_us(lambda i: i, sdk.trace(lambda i: i), 20_000),
            "openai_wrapper_us": _added_us(lambda _i: create(model="m", messages=msgs),
                                           lambda _i: traced_create(model="m", messages=msgs),
                                           20_000),
            "openai_client_us": _added_us(
                lambda _i: plain.chat.completions.create(model="m", messages=msgs),
                lambda _i: wrapped.chat.completions.create(model="m", messages=msgs), 3_000),
        }


def _added_us(bare, traced, n: int, rounds: int = 10) -> dict[str, float]:
    """Traced call minus bare call, in µs: medians (the usual call) and means (garbage
    collection and every slow call included). The two alternate call by call, so a
    load spike from other processes hits both alike. Buffered spans are written between
    rounds, outside the timing, as the writer thread would: spans piling up unwritten would
    slow the garbage collector and bill the caller for it."""
    from goldenloop import sdk

    clock = time.perf_counter_ns
    plain, with_sdk = [], []
    for i in range(n // 10):  # warm up: imports, connections
        bare(i), traced(i)
    for _ in range(rounds):
        for i in range(n // rounds):
            t0 = clock()
            bare(i)
            t1 = clock()
            traced(i)
            t2 = clock()
            plain.append(t1 - t0)
            with_sdk.append(t2 - t1)
        sdk.flush()
    return {"median": (statistics.median(with_sdk) - statistics.median(plain)) / 1000,
            "mean": (statistics.fmean(with_sdk) - statistics.fmean(plain)) / 1000}


def bench_sdk_ingest(spans: int, producers: int, rate: float) -> dict:
    import duckdb

    from goldenloop.config import resolve_paths
    from goldenloop.schema import open_store

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        paths = resolve_paths(db).ensure()
        open_store(db).close()
        alone = _producers(Path(tmp) / "sdk-alone", spans, producers, rate)
        owner = Owner(db)
        made = _producers(paths.inbox, spans, producers, rate)
        wait_inbox_empty(paths.inbox)
        owner.stop()
        stored, distinct = store_counts(db)
        seconds = max(owner.commits) - made["start"]
        files = sorted(str(p) for p in paths.inbox_done.glob("*.parquet"))
        t0 = time.perf_counter()
        duckdb.connect(str(Path(tmp) / "bare.duckdb")).execute(
            "CREATE TABLE t AS SELECT * FROM read_parquet(?)", [files])
        bare = time.perf_counter() - t0
        owner_alone = _owner_alone(Path(tmp), [Path(f) for f in files])
    return {"sdk_alone_spans_per_s": spans / (alone["flushed"] - alone["start"]),
            "sdk_alone_dropped": alone["dropped"],
            "spans": spans, "producers": producers, "target_rate": rate, "stored": stored,
            "distinct": distinct, "lag_after_last_span_s": max(owner.commits) - made["made"],
            "files": len(files), "owner_busy_s": owner.busy,
            "dropped": made["dropped"], "seconds": seconds, "spans_per_s": stored / seconds,
            "app_spans_per_s": spans / (made["made"] - made["start"]),
            "owner_alone_spans_per_s": stored / owner_alone,
            "bare_seconds": bare, "bare_rows_per_s": stored / bare,
            "ratio_to_bare": (stored / bare) / (stored / seconds)}


def _producers(inbox: Path, spans: int, producers: int, rate: float) -> dict:
    """Run the SDK producers to the end; their first start, last span, last flush, drops."""
    procs = [subprocess.Popen([sys.executable, __file__, "--role", "sdk-producer", str(inbox),
                               str(spans // producers), str(rate / producers)],
                              stdout=subprocess.PIPE, text=True) for _ in range(producers)]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return {"start": min(o["start"] for o in outs), "made": max(o["made"] for o in outs),
            "flushed": max(o["flushed"] for o in outs),
            "dropped": sum(o["dropped"] for o in outs)}


def _owner_alone(tmp: Path, files: list[Path]) -> float:
    """Seconds the owner takes to import the same spool files with nothing else running:
    tells whether the producers or the import limit the pipeline."""
    import shutil

    from goldenloop.config import resolve_paths
    from goldenloop.schema import open_store
    from goldenloop.workers.inbox import pending_files, process_file

    paths = resolve_paths(tmp / "alone" / "alone.duckdb").ensure()
    for f in files:
        shutil.copy2(f, paths.inbox / f.name)
    with open_store(paths.db) as store:
        if Owner.threshold:
            store.con.execute(f"SET checkpoint_threshold = '{Owner.threshold}'")
        t0 = time.perf_counter()
        for p in pending_files(paths.inbox):
            process_file(store, paths, p)
        return time.perf_counter() - t0


def bench_receiver(spans: int) -> dict:
    from goldenloop.config import resolve_paths
    from goldenloop.schema import open_store

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        paths = resolve_paths(db).ensure()
        open_store(db).close()
        port = _free_port()
        collect = subprocess.Popen([sys.executable, "-m", "goldenloop.cli", "collect", "--db",
                                    str(db), "--port", str(port)], stdout=subprocess.PIPE,
                                   text=True)
        collect.stdout.readline()
        owner = Owner(db)
        exporter = subprocess.Popen([sys.executable, __file__, "--role", "otel-exporter",
                                     f"http://127.0.0.1:{port}/v1/traces", str(spans)],
                                    stdout=subprocess.PIPE, text=True)
        time.sleep(3)  # into the run: then the owner dies without warning, and comes back
        owner.stop(signal.SIGKILL)
        down_at = time.time()
        time.sleep(2)
        owner = Owner(db)
        sent = json.loads(exporter.communicate(timeout=900)[0].strip().splitlines()[-1])
        # The receiver stops first: on its way out it turns every accepted request into spool
        # files; then the owner empties the inbox.
        collect.send_signal(signal.SIGTERM)
        summary = collect.communicate(timeout=120)[0].strip().splitlines()[-1]
        wait_inbox_empty(paths.inbox)
        owner.stop()
        stored, distinct = store_counts(db)
        all_stored = max(owner.commits) - sent["start"]
    seconds = sent["end"] - sent["start"]
    return {"spans": spans, "stored": stored, "distinct": distinct, "lost": spans - distinct,
            "exporter_flushed": sent["flushed"], "seconds": seconds,
            "spans_per_s": spans / seconds, "owner_killed_after_s": down_at - sent["start"],
            "all_stored_after_s": all_stored,
            "collector": summary}


def bench_exporter_alone(spans: int, durable: bool = False) -> dict:
    """One OpenTelemetry exporter against an endpoint that answers at once (or, ``durable``,
    once the body is parsed and on disk): the most any receiver can get from it on this
    machine at this moment."""
    null = subprocess.Popen([sys.executable, __file__, "--role", "null-server"]
                            + (["durable"] if durable else []),
                            stdout=subprocess.PIPE, text=True)
    port = int(null.stdout.readline())
    try:
        out = subprocess.run([sys.executable, __file__, "--role", "otel-exporter",
                              f"http://127.0.0.1:{port}/v1/traces", str(spans)],
                             capture_output=True, text=True, timeout=900, check=True).stdout
    finally:
        null.send_signal(signal.SIGTERM)
        null.wait(timeout=30)
    sent = json.loads(out.strip().splitlines()[-1])
    return {"spans": spans, "seconds": sent["end"] - sent["start"],
            "spans_per_s": spans / (sent["end"] - sent["start"])}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=600_000)
    ap.add_argument("--otlp-spans", type=int, default=60_000)
    ap.add_argument("--producers", type=int, default=2, help="application processes (web "
                    "workers) traced by the SDK")
    ap.add_argument("--rate", type=float, default=60_000, help="spans/s the producers make, "
                    "together")
    ap.add_argument("--owner-checkpoint-threshold", default="", help="e.g. 16MB: the owner "
                    "runs with this DuckDB checkpoint threshold instead of the store's (1GB)")
    ap.add_argument("--role")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()
    if a.role:
        {"owner": lambda: role_owner(a.args[0], a.args[1] if len(a.args) > 1 else ""),
         "sdk-producer": lambda: role_sdk_producer(a.args[0], int(a.args[1]),
                                                   float(a.args[2])),
         "otel-exporter": lambda: role_otel_exporter(a.args[0], int(a.args[1])),
         "null-server": lambda: role_null_server(a.args[:1] == ["durable"])}[a.role]()
        return
    Owner.threshold = a.owner_checkpoint_threshold
    result = {"load_before": os.getloadavg(), "owner_checkpoint_threshold": Owner.threshold,
              "overhead": bench_overhead(),
              "sdk_ingest": bench_sdk_ingest(a.spans, a.producers, a.rate),
              "receiver": bench_receiver(a.otlp_spans),
              "exporter_alone": bench_exporter_alone(a.otlp_spans),
              "exporter_durable_only": bench_exporter_alone(a.otlp_spans, durable=True),
              "load_after": os.getloadavg()}
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "producers.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
