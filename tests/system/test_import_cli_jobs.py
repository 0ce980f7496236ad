"""Issue 13, item 7: a repeated `goldenloop import` while a server owns the database is a new
job each time (the owner skips a job file whose bytes it has seen), so a changed file is
imported again. Real processes: the CLI runs as a subprocess and finds this test process
recorded as the owner."""

from __future__ import annotations

import json
import subprocess
import sys

from goldenloop.config import resolve_paths
from goldenloop.schema import open_store
from goldenloop.store import owner as owner_file
from goldenloop.workers.handlers import import_files
from goldenloop.workers.inbox import pending_files, process_file


def _cli_import(path, db) -> str:
    proc = subprocess.run([sys.executable, "-m", "goldenloop.cli", "import", str(path),
                           "--db", str(db)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_repeated_cli_import_while_serving_is_not_skipped(tmp_path):
    db = tmp_path / "g.duckdb"
    paths = resolve_paths(db).ensure()
    open_store(db).close()
    owner_file.write_owner(paths.owner_file)  # this process plays the running server
    try:
        f = tmp_path / "rep.csv"
        f.write_text("timestamp,response\n2025-03-01T10:00:00Z,a\n")
        assert "queued the import" in _cli_import(f, db)
        with f.open("a") as fh:
            fh.write("2025-03-01T10:01:00Z,b\n")
        assert "queued the import" in _cli_import(f, db)
        jobs = pending_files(paths.inbox)
        assert len(jobs) == 2
        with open_store(db) as store:
            assert [process_file(store, paths, j) for j in jobs] == ["done", "done"]
            params = [json.loads(p) for (p,) in store.rows(
                "SELECT params FROM jobs WHERE kind = 'import' ORDER BY job_id")]
            assert params[0]["seen"][0]["size"] < params[1]["seen"][0]["size"]
            results = [import_files(store, p, lambda _f, _m: None) for p in params]
        assert [r["imported"] for r in results] == [2, 0]  # both rows by the time jobs run
        assert [r["duplicates"] for r in results] == [0, 2]
    finally:
        owner_file.clear_owner(paths.owner_file)
