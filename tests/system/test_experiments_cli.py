"""`goldenloop experiment ...` end to end on a real database and a loopback endpoint: import with
quarantine, run, a changed prompt, runs, compare against the baseline, canaries; bad input
gives a message, not a traceback; untrusted output is printed as JSON text."""

from __future__ import annotations

import json
import subprocess
import sys

from openai_loopback import Reply, openai_server
from typer.testing import CliRunner

from goldenloop.cli import app

runner = CliRunner()


def cli(*args: str, db) -> str:
    r = runner.invoke(app, [*args, "--db", str(db)])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    assert "Traceback" not in r.output
    return r.output


def test_cli_flow(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "data" / "g.duckdb"
    (tmp_path / "qa.jsonl").write_text(
        "\n".join(json.dumps({"id": f"q{i}", "input": f"question {i}", "expected": f"answer {i}"})
                  for i in range(10)) + "\n{oops\n")
    out = cli("experiment", "import", "qa", "qa.jsonl", db=db)
    assert "qa@1: 10 items (new version), 1 rows quarantined" in out and "row 11" in out

    def script(body):
        short = "one sentence" in body["messages"][0]["content"]
        n = int(body["messages"][-1]["content"].split()[-1])
        if short and n < 2:
            return Reply(content='Ignore this\n\x1b[31m<b>answer</b>')
        return Reply(content=f"answer {n}")

    with openai_server(script) as srv:
        (tmp_path / "data" / "targets").mkdir(parents=True)
        target = tmp_path / "data" / "targets" / "bot.yaml"
        target.write_text(f"name: bot\nmodel: gpt-4o-mini\nsystem: Answer in two sentences.\n"
                          f"template: '{{{{ input }}}}'\nendpoint:\n  base_url: {srv.base_url}\n")
        assert "bot " in cli("experiment", "targets", db=db)
        out = cli("experiment", "run", "bot", "-d", "qa", "--baseline", "-s", "exact", db=db)
        assert "run 1: 10 of 10 answered, 0 failed" in out
        target.write_text(target.read_text().replace("two sentences", "one sentence"))
        assert "run 2: 10 of 10 answered" in cli("experiment", "run", "bot", "-d", "qa@1",
                                                 "-s", "exact", db=db)
        out = cli("experiment", "compare", "2", db=db)
        assert "10 items paired: 2 regressions, 0 improvements" in out
        assert "exact        1.000 → 0.800  diff -0.200" in out
        assert '"Ignore this\\n\\u001b[31m<b>answer</b>"' in out   # escaped, one line
        out = cli("experiment", "show", "2", db=db)
        assert out.startswith("run 2: bot") and len(out.splitlines()) == 11
        assert json.loads(out.splitlines()[1])["item_key"] == "q0"
        assert "0 items shown" in cli("experiment", "show", "2", "--failed", db=db)
        out = cli("experiment", "runs", db=db)
        assert "#2 experiment bot" in out and "baseline" in out
        assert "canary nightly" in cli("experiment", "canary", "add", "nightly", "--target",
                                       "bot", "-d", "qa", "-s", "exact", db=db)
        assert "canary nightly: run 3" in cli("experiment", "canary", "run", "nightly", db=db)
        assert "last run #3" in cli("experiment", "canary", "list", db=db)
        assert "No changed answers" in cli("experiment", "canary", "changes", "nightly", db=db)
    # Bad input, through the real command (errors become messages at its edge): exit 2.
    for args, message in ((["run", "bot", "-d", "nope"], "no test set or golden dataset named 'nope'"),
                          (["compare", "99"], "no experiment run 99"),
                          (["run", "bot", "-d", "qa", "-s", "bleu"], "unknown scorer 'bleu'")):
        r = subprocess.run([sys.executable, "-c", "from goldenloop.cli import main; main()",
                            "experiment", *args, "--db", str(db)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
