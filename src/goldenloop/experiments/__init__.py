"""Experiments and canaries: golden sets run against targets (an endpoint with a prompt, or an
application entry point), scored, compared run against run, and scheduled as canaries.

    from goldenloop import experiments as ex
    ds = ex.resolve(store, "support-golden@2")        # a golden version, or an imported file
    target = ex.get_target(store, "support-v2")       # targets/support-v2.yaml
    run = ex.run(store, target, ds, ["exact", "token_f1", "rouge_l"],
                 ex.RunOptions(concurrency=16, budget_usd=1.0))
    cmp = ex.compare(store, run.run_id, old_run)      # items, per-scorer statistics
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use: the store's migration list imports ``experiments.schema``, so this
# package must not import the store (or anything that does) when it is first loaded.
_EXPORTS = {
    "Comparison": "compare", "compare": "compare", "mark_baseline": "compare",
    "run_info": "compare", "Dataset": "datasets", "ImportResult": "datasets",
    "import_file": "datasets", "resolve": "datasets", "RunOptions": "runner",
    "RunResult": "runner", "run": "runner", "Target": "targets", "TargetSpec": "targets",
}
__all__ = [*sorted(_EXPORTS), "DEFAULT_SCORERS", "get_target"]


def __getattr__(name: str) -> Any:
    if name == "DEFAULT_SCORERS":
        return importlib.import_module("goldenloop.experiments.scoring").DEFAULT
    if name == "get_target":
        return importlib.import_module("goldenloop.experiments.targets").get
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"goldenloop.experiments.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
