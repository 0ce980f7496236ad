"""Start-up guard (issue 13, "Numbers to keep"): the command line and an import into a new
database load none of the heavy packages only other commands need. Each once cost every
`goldenloop import` CPU time before it read a row (scipy about 0.75 s through the judge
commands and the migrations of a new database, pandas about 0.4 s through the span store's
type hints and the price table). Real processes: a fresh interpreter's ``sys.modules``."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb

# Loaded on first use by the commands that need them, never by start-up or a span import.
HEAVY = ("scipy", "sklearn", "argilla", "openai", "streamlit", "pandas", "jinja2", "httpx",
         "ruptures", "apprise", "pyarrow.compute")


def _loaded(code: str, cwd) -> tuple[list[str], str]:
    """The heavy modules a fresh interpreter holds after running ``code``, and its output."""
    report = f"import json, sys; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    proc = subprocess.run([sys.executable, "-c", f"{code}\n{report}"], capture_output=True,
                          text=True, timeout=300, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    *out, last = proc.stdout.strip().splitlines()
    return json.loads(last), "\n".join(out)


def _cli(*args: str) -> str:
    """Run the CLI's entry point in this interpreter, as `goldenloop ARGS` would."""
    return (f"import sys\nsys.argv = ['goldenloop', *{list(args)!r}]\n"
            "from goldenloop.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass")


def test_the_command_line_loads_no_heavy_package(tmp_path):
    loaded, _ = _loaded("import goldenloop.cli", tmp_path)
    assert loaded == []
    loaded, out = _loaded(_cli("import", "--help"), tmp_path)
    assert "Import trace files" in out  # the help was shown, not an error
    assert loaded == []


def test_a_parquet_import_into_a_new_database_loads_no_heavy_package(tmp_path):
    src = tmp_path / "spans.parquet"
    duckdb.sql(f"""COPY (SELECT 't' || i AS trace_id, 's' AS span_id, 'gpt-4o' AS model,
                   TIMESTAMP '2025-01-01' + INTERVAL (i) SECOND AS start_time,
                   100 AS input_tokens, 20 AS output_tokens, 'hello' AS output
                   FROM range(50) r(i)) TO '{src}' (FORMAT parquet)""")
    db = tmp_path / "new.duckdb"
    loaded, out = _loaded(_cli("import", str(src), "--db", str(db)), tmp_path)
    assert "50 imported" in out, out
    assert loaded == []
    # the import did its whole work: migrations, validation, prices
    con = duckdb.connect(str(db), read_only=True)
    assert con.sql("SELECT count(*), count(cost_usd) FROM spans").fetchall() == [(50, 50)]
    con.close()
