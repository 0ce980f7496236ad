"""A store full of hostile strings, imported the way users import data: spans from a JSON
Lines file with markup, remote images, HTML, ``javascript:`` links, bidi overrides and very
long text in every text field, and grades from a CSV whose rubric, criterion, labels,
reviewer, judge name and judge version are hostile too; plus a queue by hand and a sampled
queue with hostile names, and an anomaly of a hostile app. Used by the browser test that
opens every page over it."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

from goldenloop import sampling
from goldenloop.anomalies.records import Finding, store_findings
from goldenloop.ingest import ImportOptions, import_file
from goldenloop.schema import open_store
from goldenloop.store import Store

OUTSIDE = "203.0.113.7"  # TEST-NET-3: never a real host; the browser test blocks it anyway
IMG = f"![img](http://{OUTSIDE}/x.png)"
HTML = f"<img src=http://{OUTSIDE}/h.png onerror=alert(1)>"
LINK = "[click](javascript:alert(1))"
RLO = "\u202e"
BIDI = f"{RLO}gnp.exe"
EXTRAS = ":red[red] $x^2$ :material/home: **bold** www.example.com"


def hostile(tag: str) -> str:
    """A short hostile string that still says which field it came from."""
    return f"{tag} {IMG} {HTML} {LINK} {BIDI} {EXTRAS}"


LONG = hostile("long") + " " + "very long " * 2000
N_SPANS = 40
END = datetime(2026, 3, 2, 12)
LABELS = [hostile("good"), hostile("bad")]


def _span(i: int) -> dict:
    t0 = END - timedelta(hours=N_SPANS - i)
    return {
        "trace_id": f"t{i}-{hostile('trace')}", "span_id": f"s{i}-{hostile('span')}",
        "session_id": f"sess{i % 4}-{hostile('session')}", "user_id": hostile("user"),
        "app": hostile(f"app{i % 2}"), "environment": hostile("env"),
        "release": hostile("release"), "kind": "llm", "name": hostile("name"),
        "provider": hostile("provider"), "model": hostile("model"),
        "model_version": hostile(f"version{i % 2}"), "prompt_name": hostile("prompt"),
        "prompt_version": hostile("prompt-version"),
        "start_time": t0.isoformat(), "end_time": (t0 + timedelta(seconds=2)).isoformat(),
        "input_tokens": 10, "output_tokens": 20,
        "status": "error" if i % 5 == 0 else "ok", "finish_reason": hostile("finish"),
        "error_type": hostile("error-type") if i % 5 == 0 else None,
        "error_message": hostile("error-message") if i % 5 == 0 else None,
        "system_prompt": hostile("system"),
        "messages": [{"role": "user", "content": hostile("message")}],
        "last_user_message": LONG if i == 0 else hostile("user-message"),
        "output": LONG if i == 1 else hostile("output"),
        "retrieved_context": [{"text": hostile("context")}],
        "tags": [hostile("tag")], "metadata": {hostile("key"): hostile("metadata")},
    }


def spans_file(folder: Path) -> Path:
    path = folder / "hostile.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(N_SPANS):
            f.write(json.dumps(_span(i)) + "\n")
    return path


def grades_file(folder: Path) -> tuple[Path, dict]:
    """Every span graded by a reviewer and a judge with hostile names, and the mapping."""
    path = folder / "hostile-grades.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trace_id", "span_id", "reviewer", "judge", "note"])
        for i in range(N_SPANS):
            s = _span(i)
            w.writerow([s["trace_id"], s["span_id"], LABELS[i % 2], LABELS[(i // 3) % 2],
                        hostile("comment")])
    mapping = {"grades": {
        "layout": "wide", "target": {"type": "span", "trace_id": "trace_id", "span_id": "span_id"},
        "rubric": {"name": hostile("rubric"), "version": hostile("rubric-version")},
        "criterion": hostile("criterion"),
        "scale": {"type": "nominal", "labels": LABELS},
        "comment_column": "note",
        "raters": [
            {"column": "reviewer", "kind": "reviewer", "id": hostile("reviewer")},
            {"column": "judge", "kind": "judge", "name": hostile("judge"),
             "version": hostile("judge-version"), "model": hostile("judge-model")},
        ],
    }}
    return path, mapping


def add_anomaly(store: Store, keys: list[int]) -> int:
    """An open anomaly whose app, version and description are hostile, stored by the
    detection package's own record writer."""
    found = Finding(
        metric="error_rate", app=hostile("app0"), dimension="model_version",
        value=hostile("version0"), kind="spike", direction="up",
        window_start=END - timedelta(hours=6), window_end=END - timedelta(hours=2),
        baseline=0.01, baseline_low=0.0, baseline_high=0.03, observed=0.3, n=10, severity=3,
        score=9.0, detector=hostile("detector"), detector_version=hostile("dv"),
        description=hostile("description"), example_span_keys=keys, ongoing=True)
    store.write(lambda cur: store_findings(cur, [found], since=END - timedelta(days=1),
                                           until=END, now=END))
    return int(store.scalar("SELECT max(anomaly_id) FROM anomalies"))


def add_alert_rule(store: Store) -> None:
    """An alert rule whose name, filter and channel name are hostile, evaluated once: the
    Alerts page shows its definition, a transition and a failed delivery (its variable is
    unset, so nothing is sent anywhere)."""
    from goldenloop import alerts
    from goldenloop.alerts import records

    rule = alerts.parse_rule({
        "name": f"{HTML}{BIDI}", "metric": "error_rate", "condition": "above", "warn": 0.01,
        "window": "1d", "filter": {"apps": [hostile("app0")], "tags": [hostile("tag")]},
        "channels": [{"type": "webhook", "name": f"{LINK}{BIDI}",
                      "url_env": "GOLDENLOOP_HOSTILE_UNSET"}]})
    store.write(records.save_rule, rule, "app", "lead")
    alerts.check(store, alerts.Settings(), at=END)


def build(db: Path, folder: Path) -> dict:
    """The hostile store at ``db``; returns what the test needs (ids, queue ids)."""
    with open_store(db) as store:
        r = import_file(store, spans_file(folder), ImportOptions())
        assert r.imported == N_SPANS, (r.imported, r.bad_rows[:3])
        path, mapping = grades_file(folder)
        g = import_file(store, path, ImportOptions(mapping=mapping))
        assert g.imported == 2 * N_SPANS, (g.imported, g.bad_rows[:3])
        keys = [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]
        lead = "lead"
        (db.parent / "roles.yaml").write_text(f"leads: [{lead}]\n", encoding="utf-8")
        by_hand = sampling.create_hand_queue(
            store, sampling.QueueOptions(name=hostile("queue"), created_by=lead),
            span_keys=keys[:10])
        sampled = sampling.create_queue(
            store, sampling.QueueOptions(name=hostile("sampled"), created_by=lead),
            sampling.make_frame(), sampling.Uniform(20))
        anomaly = add_anomaly(store, keys[:5])
        add_alert_rule(store)
        store.checkpoint()
    first = _span(0)
    return {"trace_id": first["trace_id"], "span_id": first["span_id"],
            "session_id": first["session_id"], "lead": lead,
            "queues": (by_hand.queue_id, sampled.queue_id), "anomaly": anomaly}
