"""What the judge part has stored, for the pages, the CLI and the owner process: runs, versions,
failures, verdicts, the judge's own calls, online settings.

This is the public surface of ``judge.sql``: other parts use these names and never import the
judge's SQL module, so the judge may change its SQL freely behind them.
"""

from __future__ import annotations

from goldenloop.judge.sql import (
    close_interrupted_runs,
    failures,
    has_new_spans,
    judge_grades,
    online_settings,
    own_calls,
    queue_judge_versions,
    runs,
    versions,
)

__all__ = [
    "close_interrupted_runs", "failures", "has_new_spans", "judge_grades", "online_settings",
    "own_calls", "queue_judge_versions", "runs", "versions",
]
