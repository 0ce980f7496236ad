"""The example budget of the property-based fuzz tests.

A plain `pytest tests/unit` (the fast subset) runs a sixth of each test's full budget; the
full suite runs the full budget through tests/system/test_unit_slow.py, which sets
GOLDENLOOP_SLOW=1. GOLDENLOOP_FUZZ_EXAMPLES, when set, is the budget of every fuzz test (a
longer run by hand)."""

from __future__ import annotations

import os


def examples(full: int) -> int:
    """The number of generated inputs for a test whose full budget is ``full``."""
    if os.environ.get("GOLDENLOOP_FUZZ_EXAMPLES"):
        return int(os.environ["GOLDENLOOP_FUZZ_EXAMPLES"])
    if os.environ.get("GOLDENLOOP_SLOW") == "1":
        return full
    return max(20, full // 6)
