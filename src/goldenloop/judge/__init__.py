"""LLM-as-a-judge: versioned judges (YAML) on any OpenAI-compatible endpoint, run over a
queue, a filter, a random sample or new traffic (online mode), under a dollar budget, with a
cache and every failure kept. Verdicts are ``grades`` rows with source ``judge``.

    from goldenloop import judge
    j = judge.get(store, "correctness")                       # judges/correctness.yaml
    result = judge.run(store, j, judge.from_queue(store, j, queue_id),
                       judge.RunOptions(concurrency=16, budget_usd=2.0))
"""

from goldenloop.judge.budget import Budget, BudgetError, Price, price_of
from goldenloop.judge.client import JudgeClient, Outcome, Retry
from goldenloop.judge.config import Judge, JudgeError, LoadedJudge, available, get, load_file
from goldenloop.judge.edit import (
    CostEstimate,
    edit,
    estimate_cost,
    load_version,
    production_versions,
    use_in_production,
)
from goldenloop.judge.jobs import run_params
from goldenloop.judge.online import configure_online, judge_new_spans
from goldenloop.judge.records import close_interrupted_runs, failures, has_new_spans, runs
from goldenloop.judge.run import RunOptions, RunResult, run
from goldenloop.judge.targets import (
    Selection,
    Target,
    from_comparisons,
    from_disagreements,
    from_filter,
    from_human_graded,
    from_queue,
    from_spans,
)

__all__ = [
    "Budget", "BudgetError", "CostEstimate", "Judge", "JudgeClient", "JudgeError", "LoadedJudge",
    "Outcome", "Price", "Retry", "RunOptions", "RunResult", "Selection", "Target", "available",
    "close_interrupted_runs", "configure_online", "edit", "estimate_cost", "failures",
    "from_comparisons", "from_disagreements", "from_filter", "from_human_graded", "from_queue",
    "from_spans", "get", "has_new_spans", "judge_new_spans", "load_file", "load_version",
    "price_of", "production_versions", "run", "run_params", "runs", "use_in_production",
]
