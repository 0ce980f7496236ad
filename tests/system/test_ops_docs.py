"""docs/operations.md: every `goldenloop` command in its shell blocks runs, in order, against a
small database, and succeeds (the recovery procedure among them)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def _commands() -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S)
    lines = [line.split("#", 1)[0].strip() for b in blocks for line in b.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith("goldenloop ")]


def test_every_command_in_the_operations_doc_runs(tmp_path: Path) -> None:
    cmds = _commands()
    assert {c[1] for c in cmds} >= {"backup", "restore", "status", "forget", "retention", "audit"}
    env = {**os.environ, "GOLDENLOOP_DB": str(tmp_path / "data" / "goldenloop.duckdb")}
    csv = tmp_path / "calls.csv"
    csv.write_text("timestamp,model,prompt_tokens,completion_tokens,response\n"
                   "2025-05-01T10:00:00Z,gpt-4o-mini,100,20,hello\n")
    base = [sys.executable, "-m", "goldenloop.cli"]
    subprocess.run([*base, "import", str(csv)], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    for cmd in cmds:
        out = subprocess.run([*base, *cmd[1:]], env=env, cwd=tmp_path, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, (cmd, out.stdout, out.stderr)
        if cmd[1] == "status":
            assert "\nspans: 1\n" in out.stdout  # restored: the backup's one span
    assert (tmp_path / "backups" / "monday.duckdb.manifest.json").is_file()
