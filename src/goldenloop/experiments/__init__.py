"""Experiments and canaries: golden sets run against targets (an endpoint with a prompt, or an
application entry point), scored, compared run against run, and scheduled as canaries.

    from goldenloop import experiments as ex
    ds = ex.resolve(store, "support-golden@2")        # a golden version, or an imported file
    target = ex.get_target(store, "support-v2")       # targets/support-v2.yaml
    run = ex.run(store, target, ds, ["exact", "token_f1", "rouge_l"],
                 ex.RunOptions(concurrency=16, budget_usd=1.0))
    cmp = ex.compare(store, run.run_id, old_run)      # items, per-scorer statistics
"""

from goldenloop.experiments.compare import Comparison, compare, mark_baseline, run_info
from goldenloop.experiments.datasets import Dataset, ImportResult, import_file, resolve
from goldenloop.experiments.runner import RunOptions, RunResult, run
from goldenloop.experiments.scoring import DEFAULT as DEFAULT_SCORERS
from goldenloop.experiments.targets import Target, TargetSpec
from goldenloop.experiments.targets import get as get_target

__all__ = [
    "DEFAULT_SCORERS", "Comparison", "Dataset", "ImportResult", "RunOptions", "RunResult",
    "Target", "TargetSpec", "compare", "get_target", "import_file", "mark_baseline", "resolve",
    "run", "run_info",
]
