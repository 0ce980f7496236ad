"""`goldenloop serve --spans chdb://FOLDER` as an operator runs it: a new database's demo goes
to ClickHouse (embedded, chdb), spans dropped into the inbox and sent to the OTLP receiver
land there exactly once and not in the database file, which keeps the import log and the
quarantine; the Monitor page, in headless Chromium, counts them."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import browser_support as bs
import pytest
from otlp_support import otlp_span, request
from serve_support import serving

from goldenloop.collector import Receiver
from goldenloop.config import resolve_paths
from goldenloop.store import Store

APP = "wiring-bot"
FILE_SPANS = 30  # LLM spans of the JSONL file (and one bad row)
OTLP_SPANS = 2
# Reads the chdb folder in a process of its own: chdb opens one folder per process.
COUNT = """
import json, sys
from goldenloop.spanstore import open_span_store
s = open_span_store(sys.argv[1], None)
q = lambda sql: s.arrow(sql).column(0)[0].as_py()
print(json.dumps({"app": q("SELECT count() FROM spans WHERE app = 'wiring-bot'"),
                  "app_final": q("SELECT count() FROM spans FINAL WHERE app = 'wiring-bot'"),
                  "spans": q("SELECT count() FROM spans FINAL"),
                  "signals": q("SELECT count() FROM signals FINAL")}))
"""


def span_file(path: Path, now: datetime) -> Path:
    with path.open("w") as fh:
        for i in range(FILE_SPANS):
            fh.write(json.dumps({
                "trace_id": f"wire-{i}", "span_id": "s", "app": APP, "kind": "llm",
                "model": "gpt-4o-mini", "model_version": "gpt-4o-mini-2024-07-18",
                "start_time": (now - timedelta(minutes=50 - i)).isoformat(),
                "latency_ms": 400 + i, "output": f"answer {i}",
                "last_user_message": f"question {i}"}) + "\n")
        fh.write(json.dumps({"trace_id": "wire-bad", "span_id": "s", "app": APP,
                             "start_time": "yesterday"}) + "\n")
    return path


def send_otlp(inbox: Path, now: datetime) -> None:
    """Two LLM spans through a real receiver on loopback, written to the server's inbox."""
    receiver = Receiver(("127.0.0.1", 0), inbox, max_body=1 << 20)
    thread = threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        start = int((now - timedelta(minutes=5)).timestamp() * 1e9)
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                 "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 4}
        body = request(*(otlp_span(attrs, trace=f"{i:032x}", span=f"{i:016x}", start=start)
                         for i in range(1, OTLP_SPANS + 1)),
                       resource={"service.name": APP, "deployment.environment.name": "prod"})
        req = urllib.request.Request(f"http://127.0.0.1:{receiver.server_port}/v1/traces",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200
        assert receiver.settle()  # the accepted spans as a spool file in the inbox
    finally:
        receiver.shutdown()
        receiver.server_close()


def wait_imported(paths, files: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = [p for p in paths.inbox.iterdir() if p.is_file()]
        if not waiting and len(list(paths.inbox_done.iterdir())) >= files:
            return
        time.sleep(0.5)
    raise TimeoutError(f"inbox not imported: {sorted(p.name for p in paths.inbox.iterdir())}")


def monitor_text(url: str, expect: str, timeout: float = 120) -> str:
    """The Monitor's main block for the app's spans once its Requests tile shows ``expect``,
    reloading as a user would: the page caches its aggregates for half a minute, and the
    server warmed them before the spans arrived."""
    deadline = time.monotonic() + timeout
    with bs.chromium() as browser:
        page = bs.open_page(browser, f"{url}/monitor?app={APP}")
        while True:
            with contextlib.suppress(Exception):  # the assertion shows what was drawn instead
                page.locator('[data-testid="stMetric"]').first.wait_for(timeout=60_000)
            text = page.inner_text('[data-testid="stMainBlockContainer"]')
            if tile(text) == expect or time.monotonic() > deadline:
                return text
            time.sleep(5)
            # the full address again: a value not yet among the filter's options is dropped
            # from the URL, so a plain reload would show every app
            page.goto(f"{url}/monitor?app={APP}")
            bs.wait_rendered(page)


def tile(text: str) -> str | None:
    """The value under the Requests tile's label (not the caption's "Requests are ...")."""
    if "\nRequests\n" not in text:
        return None
    lines = [ln.strip() for ln in text.split("\nRequests\n", 1)[1].splitlines() if ln.strip()]
    return lines[0] if lines else None


def test_serve_on_clickhouse_takes_inbox_and_receiver_spans_once(tmp_path: Path) -> None:
    pytest.importorskip("chdb", reason="the clickhouse extra is not installed")
    db, folder = tmp_path / "goldenloop.duckdb", tmp_path / "ch"
    url = f"chdb://{folder}"
    paths = resolve_paths(db)
    log = tmp_path / "serve.log"
    now = datetime.now(UTC).replace(tzinfo=None)
    args = ("--spans", url, "--demo-spans", "1500")
    with serving(db, log, args=args, timeout=300) as server:
        one = span_file(tmp_path / "wire.jsonl", now)
        (paths.inbox / "wire.jsonl").write_bytes(one.read_bytes())
        (paths.inbox / "wire-again.jsonl").write_bytes(one.read_bytes())  # a producer's retry
        send_otlp(paths.inbox, now)
        wait_imported(paths, files=3)
        shown = monitor_text(server.url, str(FILE_SPANS + OTLP_SPANS))
        status = subprocess.run([sys.executable, "-m", "goldenloop.cli", "status", "--db", str(db)],
                                capture_output=True, text=True, timeout=120)
    assert server.returncode == 0, log.read_text()[-3000:]
    assert f"spans live in {url}" in status.stdout, status.stdout + status.stderr
    out = subprocess.run([sys.executable, "-c", COUNT, url], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    # Exactly once without FINAL: the file sent twice added nothing the second time
    assert counts["app"] == counts["app_final"] == FILE_SPANS + OTLP_SPANS
    demo = int(re.search(r"demo moved to .*?spans: ([\d,]+) rows", log.read_text())[1]
               .replace(",", ""))
    assert demo > 1000 and counts["spans"] == demo + FILE_SPANS + OTLP_SPANS  # moved over too
    with Store(db, read_only=True, migrate_schema=False) as s:
        assert s.scalar("SELECT count(*) FROM spans") == 0
        assert s.scalar("SELECT count(*) FROM quarantine") == 1
        logged = s.rows("SELECT format, imported FROM import_log WHERE status = 'committed' "
                        "AND origin = 'inbox' ORDER BY import_id")
    assert sorted(n for _, n in logged) == sorted([OTLP_SPANS, FILE_SPANS]), logged
    assert tile(shown) == str(FILE_SPANS + OTLP_SPANS), shown[:2000]
