"""The judge's own calls as spans of app ``goldenloop-judge``: one span per HTTP attempt
(retries included, since each may cost), with tokens, cost, latency, status and the error,
so the Monitor page shows what judging costs and how the judge's endpoint behaves."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from goldenloop.judge.client import Outcome
from goldenloop.judge.config import LoadedJudge
from goldenloop.store.span_columns import JUDGE_APP


def attempt_rows(out: Outcome, call: Any, judge: LoadedJudge, run_id: int) -> list[dict[str, Any]]:
    rows = []
    trace = f"judge-{run_id}-{call.hash[:24]}"
    messages = json.dumps(call.messages, ensure_ascii=False)
    for n, a in enumerate(out.attempts, start=1):
        rows.append({
            "trace_id": trace, "span_id": f"attempt-{n}", "session_id": f"judge-run-{run_id}",
            "app": JUDGE_APP, "environment": "judge", "kind": "llm",
            "name": f"judge {judge.name}", "provider": "openai-compatible",
            "model": judge.judge.model, "model_version": a.model_version,
            "prompt_name": judge.name, "prompt_version": judge.version,
            "start_time": a.started, "end_time": a.started + timedelta(milliseconds=a.latency_ms),
            "latency_ms": a.latency_ms, "input_tokens": a.input_tokens,
            "output_tokens": a.output_tokens, "cached_input_tokens": a.cached_tokens,
            "cost_usd": a.cost_usd, "status": a.status, "finish_reason": a.finish_reason,
            "error_type": a.error_type, "error_message": a.error_message,
            "messages": messages, "output": a.output,
            "metadata": json.dumps({"judge_run": run_id, "judge_version": judge.version,
                                    "input_hash": call.hash, "output_mode": a.mode,
                                    "http_status": a.http_status, "attempt": n}),
            "source": "judge",
        })
    return rows
