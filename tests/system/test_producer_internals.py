"""Internals the producers' speed rests on, checked against the plain way of doing the same."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap

from goldenloop.ingest import otel_attributes as oa


def test_direct_fields_pick_what_a_lookup_per_candidate_picks():
    """One pass over the attributes chooses, for every field, the attribute the ordered
    lookup of each candidate name would choose (first with a value, None and '' skipped)."""
    rng = random.Random(7)
    names = sorted({k for keys in oa._DIRECT.values() for k in keys})
    values = [None, "", "x", "y", 0, 3, 2.5, [], ["stop"], {"a": 1}]
    for _ in range(3000):
        attrs = {k: rng.choice(values) for k in rng.sample(names, rng.randint(0, len(names)))}
        attrs.update({f"other.{i}": rng.choice(values) for i in range(rng.randint(0, 3))})
        expected = {field: oa._first(attrs, *keys) for field, keys in oa._DIRECT.items()}
        assert oa._direct_fields(attrs) == expected, attrs


def test_an_application_using_the_sdk_does_not_load_duckdb():
    """The SDK reaches the span columns through the store package; the package must not
    bring DuckDB (and the store) with it. Everything else still imports the usual way."""
    code = textwrap.dedent("""
        import sys, tempfile
        from goldenloop import sdk
        sdk.configure(tempfile.mkdtemp())

        @sdk.trace
        def step(i):
            return i

        step(1)
        sdk.flush()
        print("duckdb" in sys.modules)
        from goldenloop.store import Store
        from goldenloop.ingest import ImportOptions, import_file
        print(Store.__name__, ImportOptions.__name__, import_file.__name__)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split("\n")
    assert out[0] == "False"
    assert out[1] == "Store ImportOptions import_file"
