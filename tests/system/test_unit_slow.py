"""The unit layer's slow parts at full size, in a pytest subprocess: the unit tests marked slow
(a plain `pytest tests/unit`, the fast subset, skips them) and the property-based fuzzing at its
full example budget (the fast subset runs a sixth of it: tests/fuzz_support.py), for a plain
`pytest` run. scripts/test sets GOLDENLOOP_SLOW=1 instead, so its parallel workers share those
tests out; then this module skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ["tests/unit/test_fuzz_import.py", "tests/unit/test_fuzz_otlp.py",
        "tests/unit/test_experiments_fuzz.py"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800), pytest.mark.skipif(
    os.environ.get("GOLDENLOOP_SLOW") == "1",
    reason="this run has GOLDENLOOP_SLOW=1: the slow unit tests and the full fuzz budget run "
           "in it directly (scripts/test sets it)")]


def _pytest(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                       cwd=ROOT, env=os.environ | {"GOLDENLOOP_SLOW": "1"}, capture_output=True,
                       text=True, timeout=1700)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    return r.stdout


def test_the_unit_tests_marked_slow_pass() -> None:
    out = _pytest("-m", "slow", "tests/unit")
    assert " passed" in out and "run by tests/system/test_unit_slow.py" not in out, out[-2000:]


def test_the_fuzz_tests_pass_at_their_full_budget() -> None:
    out = _pytest(*FUZZ)
    assert " passed" in out, out[-2000:]
