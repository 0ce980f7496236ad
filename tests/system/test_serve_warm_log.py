"""`goldenloop serve` warms the Monitor's default view in a thread of its own at start, and its
log stays clean: the warm-up draws nothing (no spinner outside a page run), so Streamlit logs
no "missing ScriptRunContext" warning, and the log says when the warm-up finished."""

from __future__ import annotations

import time
from pathlib import Path

from metrics_support import seed
from serve_support import serving

WARMED = "Monitor's default view warmed"


def test_serve_log_has_no_missing_context_warning(tmp_path: Path) -> None:
    db = tmp_path / "goldenloop.duckdb"
    seed(db)  # requests, signals, grades and feedback: the warm-up builds every kind of chart
    log = tmp_path / "serve.log"
    with serving(db, log) as server:
        deadline = time.monotonic() + 120
        while WARMED not in log.read_text() and time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()[-2000:]
            time.sleep(0.2)
        text = log.read_text()
    assert WARMED in text, text[-2000:]
    assert "charts)" in text.split(WARMED)[1].splitlines()[0]
    assert "ScriptRunContext" not in text, text
    assert "Traceback" not in text, text
    assert server.returncode == 0, log.read_text()[-2000:]
