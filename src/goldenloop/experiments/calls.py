"""One test item sent to a target, and the spans that record it.

Endpoint targets go through the judge's client (``JudgeClient``: retries, Retry-After, the
budget, each HTTP attempt kept), asking for plain text and keeping the answer as it came.
App targets call the entry point in the worker thread; an exception is the item's failure,
with its type and message, and the SDK spans the app emits join the item's trace
(``app_spans``). Either way the item's outcome is an ``Outcome`` whose verdict
value is the answer text, and every attempt becomes a span with source ``experiment`` (or
``canary``): model version that answered, latency, tokens, cost, status and error.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from goldenloop.experiments.targets import Target
from goldenloop.judge.budget import Budget, Price
from goldenloop.judge.client import MODES, Attempt, JudgeClient, Outcome, Retry, make_openai
from goldenloop.judge.verdict import Verdict
from goldenloop.sdk.context import Binding, bound

if TYPE_CHECKING:  # imported on first use (judge.client.make_openai)
    import openai


class TargetClient(JudgeClient):
    """The judge client asking an endpoint target for plain answers (thread-safe)."""

    def __init__(self, target: Target, *, price: Price | None, budget: Budget,
                 retry: Retry | None = None, client: openai.OpenAI | None = None):
        # Not JudgeClient.__init__: there is no judge, only the hooks below read the target.
        self.target, self.judge = target, None
        self.price, self.budget = price, budget
        self.retry = retry or Retry()
        self.client = client or make_openai(target.spec.endpoint)
        self._mode = MODES.index("text")  # an answer, not a verdict: no response format
        self._lock = threading.Lock()

    @property
    def max_tokens(self) -> int:
        return self.target.spec.max_tokens

    def _request(self, mode: str, messages: list[dict[str, str]]) -> dict[str, Any]:
        return self.target.request(messages)

    def _read(self, out: Outcome, content: str | None) -> None:
        if content is None:
            out.failure, out.message = "empty", "the endpoint answered without text"
            return
        out.verdict = Verdict(content, None)


def call_app(fn, item: dict[str, Any], binding: Binding | None = None) -> Outcome:
    """Call an application entry point with the item's input and the item; the SDK spans it
    emits go to ``binding`` (``app_spans``)."""
    started = datetime.now(UTC).replace(tzinfo=None)
    t0 = time.perf_counter()
    att = Attempt(started, 0.0, "error", "app")
    out = Outcome(attempts=[att])
    try:
        with bound(binding):
            answer = fn(item["input"], dict(item))
    except Exception as exc:  # the application's own failure is the item's result, kept
        att.latency_ms = (time.perf_counter() - t0) * 1000
        att.error_type, att.error_message = type(exc).__name__, str(exc)[:2000]
        out.failure, out.message = "app_error", f"{type(exc).__name__}: {str(exc)[:500]}"
        return out
    att.latency_ms = (time.perf_counter() - t0) * 1000
    if isinstance(answer, dict):
        text = answer.get("output")
        att.model_version = answer.get("model_version")
        att.input_tokens, att.output_tokens = answer.get("input_tokens"), answer.get("output_tokens")
        att.cost_usd = answer.get("cost_usd")
    else:
        text = answer
    if not isinstance(text, str):
        att.error_type = "TypeError"
        att.error_message = f"the entry point returned {type(text).__name__}, not text"
        out.failure, out.message = "app_error", att.error_message
        return out
    att.status, att.output = "ok", text
    out.verdict, out.raw, out.model_version = Verdict(text, None), text, att.model_version
    out.cost_usd = float(att.cost_usd or 0.0)
    return out


def trace_id(source: str, run_id: int, item_key: str) -> str:
    return f"{source}-{run_id}-{hashlib.sha256(item_key.encode()).hexdigest()[:16]}"


def span_rows(out: Outcome, *, target: Target, run_id: int, item: dict[str, Any],
              messages: list[dict[str, str]] | None, source: str,
              suite: str | None) -> list[dict[str, Any]]:
    """One span per attempt (each may have cost), as the importer takes them."""
    rows = []
    trace = trace_id(source, run_id, item["item_key"])
    sent = json.dumps(messages, ensure_ascii=False) if messages is not None else None
    for n, a in enumerate(out.attempts, start=1):
        rows.append({
            "trace_id": trace, "span_id": f"attempt-{n}", "session_id": f"{source}-run-{run_id}",
            "app": f"goldenloop-{source}", "environment": source,
            "kind": "llm" if target.spec.kind == "endpoint" else "agent",
            "name": target.name, "provider": "openai-compatible" if sent else "app",
            "model": target.spec.model, "model_version": a.model_version,
            "prompt_name": target.name, "prompt_version": target.version,
            "start_time": a.started, "end_time": a.started + timedelta(milliseconds=a.latency_ms),
            "latency_ms": a.latency_ms, "input_tokens": a.input_tokens,
            "output_tokens": a.output_tokens, "cached_input_tokens": a.cached_tokens,
            "cost_usd": a.cost_usd, "status": a.status, "finish_reason": a.finish_reason,
            "error_type": a.error_type, "error_message": a.error_message,
            "messages": sent, "last_user_message": item.get("input"), "output": a.output,
            "metadata": json.dumps({"experiment_run": run_id, "item_key": item["item_key"],
                                    "target_version": target.version, "suite": suite,
                                    "http_status": a.http_status, "attempt": n,
                                    "source_span_key": item.get("span_key")}),
            "source": source,
        })
    return rows
