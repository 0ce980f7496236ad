"""Memory of the OTLP/HTTP receiver and of the owner's import while 200,000 spans go through
(issue 13 item 15): `goldenloop collect` in its own process receives protobuf requests of 500
GenAI spans from four clients at once (each backs off on 503 as its Retry-After says), and a
second process imports the spool files into a fresh store as the owner's inbox does. Resident
memory (psutil) is sampled every 20 ms: at start, at the peak and at the end of each.

    python benchmarks/bench_receiver_memory.py [--spans 200000] [--clients 4]
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from timing import uptime  # noqa: E402

T0 = 1_736_932_400_000_000_000
TEXT = "The weather in Paris is mild today, with light rain expected in the evening. " * 4
PER_REQUEST = 500


class Peak(threading.Thread):
    """Start, peak and current resident memory of a process, in MB, sampled every 20 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.start_mb = self.peak_mb = self.now_mb = self.proc.memory_info().rss / 2**20
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.now_mb = self.proc.memory_info().rss / 2**20
            except psutil.Error:
                return
            self.peak_mb = max(self.peak_mb, self.now_mb)
            time.sleep(0.02)

    def stop(self) -> dict:
        self.done.set()
        self.join()
        return {"start_mb": round(self.start_mb), "peak_mb": round(self.peak_mb),
                "end_mb": round(self.now_mb)}


def request_template() -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="bot")))
    ss = rs.scope_spans.add()
    ss.scope.name = "bench"
    for _ in range(PER_REQUEST):
        s = ss.spans.add()
        s.name = "chat gpt-4o"
        s.kind = 3
        for k, v in (("gen_ai.request.model", AnyValue(string_value="gpt-4o")),
                     ("gen_ai.usage.input_tokens", AnyValue(int_value=40)),
                     ("gen_ai.usage.output_tokens", AnyValue(int_value=80)),
                     ("output", AnyValue(string_value=TEXT))):
            s.attributes.append(KeyValue(key=k, value=v))
    return req


def send_all(port: int, first: int, n_requests: int, retries: list[int]) -> None:
    """``n_requests`` requests of ``PER_REQUEST`` spans with ids from ``first`` on, over one
    keep-alive connection, each sent again after a 503 as its Retry-After says."""
    req = request_template()
    spans = req.resource_spans[0].scope_spans[0].spans
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    for r in range(n_requests):
        base = first + r * PER_REQUEST
        for i, s in enumerate(spans):
            s.trace_id = (base // 1000).to_bytes(16, "big")
            s.span_id = (base + i + 1).to_bytes(8, "big")
            s.start_time_unix_nano = T0 + (base + i) * 1000
            s.end_time_unix_nano = s.start_time_unix_nano + 1_500_000_000
        body = req.SerializeToString()
        while True:
            try:
                conn.request("POST", "/v1/traces", body,
                             {"Content-Type": "application/x-protobuf"})
                resp = conn.getresponse()
                resp.read()
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                retries[0] += 1
                continue
            if resp.status == 200:
                break
            if resp.status != 503:
                raise RuntimeError(f"unexpected answer {resp.status}")
            retries[0] += 1
            if resp.getheader("Connection") == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            time.sleep(float(resp.getheader("Retry-After") or 1))
    conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def receive(inbox: Path, spans: int, clients: int) -> dict:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "goldenloop.cli", "collect", "--inbox",
                             str(inbox), "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert "OTLP/HTTP traces at" in proc.stdout.readline()
    peak = Peak(proc.pid)
    peak.start()
    per_client = spans // clients // PER_REQUEST
    retries = [0]
    t0 = time.perf_counter()
    threads = [threading.Thread(target=send_all,
                                args=(port, c * per_client * PER_REQUEST, per_client, retries))
               for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    time.sleep(3)  # the converter's last round (2 s at most), then what the receiver keeps
    idle_mb = psutil.Process(proc.pid).memory_info().rss / 2**20
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=600)
    result = peak.stop()
    result["end_mb"] = round(idle_mb)
    result.update(spans=per_client * PER_REQUEST * clients, seconds=round(seconds, 1),
                  retried=retries[0], stop_line=out.strip().splitlines()[-1])
    return result


OWNER = """
import sys, json, threading, time, psutil
from pathlib import Path
from goldenloop.config import resolve_paths
from goldenloop.store import Store
from goldenloop.schema import open_store
from goldenloop.workers.inbox import pending_files, process_file
proc = psutil.Process()
peak = [0]
def sample():
    while True:
        peak[0] = max(peak[0], proc.memory_info().rss); time.sleep(0.02)
with open_store(Path(sys.argv[1])) as store:
    paths = resolve_paths(store.path).ensure()
    for p in Path(sys.argv[2]).glob("otlp-*.parquet"):
        p.rename(paths.inbox / p.name)
    start = proc.memory_info().rss
    threading.Thread(target=sample, daemon=True).start()
    outcomes = [process_file(store, paths, p) for p in pending_files(paths.inbox)]
    stored = store.scalar("SELECT count(*) FROM spans")
    end = proc.memory_info().rss
print(json.dumps({"start_mb": round(start / 2**20), "peak_mb": round(peak[0] / 2**20),
                  "end_mb": round(end / 2**20), "files": len(outcomes),
                  "done": outcomes.count("done"), "stored": stored}))
"""


def own(db: Path, inbox: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", OWNER, str(db), str(inbox)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spans", type=int, default=200_000)
    ap.add_argument("--clients", type=int, default=4)
    a = ap.parse_args()
    print(uptime())
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp) / "collect-inbox"
        received = receive(inbox, a.spans, a.clients)
        print("receiver (goldenloop collect):", json.dumps(received))
        owner = own(Path(tmp) / "g.duckdb", inbox)
        print("owner (inbox import of its spool files):", json.dumps(owner))
    print(uptime())


if __name__ == "__main__":
    main()
