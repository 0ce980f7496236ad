"""`goldenloop serve` imports the packages both its worker threads and the pages' threads
import lazily before any thread starts: two threads importing them at once deadlocked once in
the wheel test (Python's _DeadlockError inside narwhals, under scikit-learn and altair)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from goldenloop import server

CHILD = textwrap.dedent("""
    import sys
    from goldenloop import server
    from goldenloop.config import resolve_paths

    class Stop(Exception):
        pass

    class Workers:
        def __init__(self, *args, **kwargs):
            pass

        def start(self):
            loaded = [m for m in server.SHARED_MODULES if m not in sys.modules]
            print("missing:", ",".join(loaded))
            raise Stop

    server.Workers = Workers
    try:
        server.serve(resolve_paths(sys.argv[1]), demo_if_new=False, say=lambda line: None)
    except Stop:
        pass
""")


@pytest.mark.slow
def test_shared_modules_are_imported_before_the_workers_start(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "goldenloop.duckdb")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "missing: \n" in out.stdout, out.stdout


def test_the_list_names_the_packages_that_deadlocked() -> None:
    assert {"narwhals.stable.v1", "narwhals.stable.v2", "sklearn"} <= set(server.SHARED_MODULES)
