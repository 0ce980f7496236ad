"""A judge run described by plain parameters: what the "judge" job kind, the CLI and the app
share. Parameters: ``judge`` (a name or a YAML path) and one of ``queue_id``, ``frame``
(a sampling frame as a dict, with ``sample`` for a random sample of that many spans) or
``span_keys`` (with ``inclusion_prob``), ``human_graded`` (the items reviewers graded) or
``disagreements_of`` (a judge version: where it and a reviewer differ); ``judge_version``
runs that exact version (an edited one) instead of the judge file; options ``budget_usd``,
``concurrency``, ``use_cache``, ``redact``, ``seed``."""

from __future__ import annotations

from typing import Any

from goldenloop.judge import targets
from goldenloop.judge.config import JudgeError, get
from goldenloop.judge.run import RunOptions, RunResult, run
from goldenloop.sampling import frame_from_dict
from goldenloop.spanstore.base import SpanStore
from goldenloop.store import Store


def selection_of(store: Store, judge, params: dict[str, Any],
                 spans: SpanStore | None = None) -> targets.Selection:
    """The targets ``params`` name; ``spans``: where the spans live (None: the store's file)."""
    if params.get("human_graded"):
        return targets.from_human_graded(store, judge, spans)
    if params.get("disagreements_of"):
        return targets.from_disagreements(store, judge, str(params["disagreements_of"]), spans)
    if params.get("queue_id") is not None:
        return targets.from_queue(store, judge, int(params["queue_id"]), spans)
    if params.get("span_keys"):
        return targets.from_spans(store, [int(k) for k in params["span_keys"]],
                                  params.get("inclusion_prob"), spans=spans)
    if params.get("frame") is not None:
        sample = params.get("sample")
        return targets.from_filter(store, frame_from_dict(params["frame"]),
                                   sample=int(sample) if sample else None, seed=params.get("seed"),
                                   spans=spans)
    raise JudgeError("say what to judge: a queue, a filter (frame) or span keys")


def options_of(params: dict[str, Any], job_id: int | None = None) -> RunOptions:
    budget = params.get("budget_usd")
    return RunOptions(concurrency=int(params.get("concurrency") or 8),
                      budget_usd=float(budget) if budget not in (None, "") else None,
                      use_cache=bool(params.get("use_cache", True)),
                      redact=params.get("redact"), job_id=job_id)


def run_params(store: Store, params: dict[str, Any], progress=None,
               job_id: int | None = None, spans: SpanStore | None = None) -> RunResult:
    if params.get("judge_version"):  # an exact version (an edited one lives in the store)
        from goldenloop.judge.edit import load_version

        judge = load_version(store, str(params["judge_version"]))
    else:
        judge = get(store, str(params["judge"]))
    selection = selection_of(store, judge, params, spans)
    return run(store, judge, selection, options_of(params, job_id), progress)
