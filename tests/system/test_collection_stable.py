"""Two collections of the suite, made at different times in different processes, name the same
tests: the parallel workers of scripts/test each collect the suite and refuse to start when
they disagree (a test id built from bytes holding a timestamp once stopped a whole run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _collected() -> list[str]:
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p",
                          "no:cacheprovider", "tests"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600, env=os.environ | {"PYTHONHASHSEED": "random"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    return [line for line in out.stdout.splitlines() if "::" in line]


def test_the_suite_collects_the_same_test_ids_twice() -> None:
    first = _collected()
    second = _collected()  # seconds later, in another process with another hash seed
    assert len(first) > 1000
    assert sorted(set(first) ^ set(second)) == []
