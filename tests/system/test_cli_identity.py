"""The CLI's sign-in through real `goldenloop` processes: each kind of writing command (import,
judge run, golden build and export, forget, backup, retention, experiment import and run, an
Argilla queue push) is refused for a reviewer with one plain line naming the action and the
role it needs (exit 2, no traceback, nothing written but the audit entry) and allowed for a
lead; the name comes from --by, $GOLDENLOOP_USER or the login name; the allowed writes and
the refusals are in the audit log under that name from the `cli` interface. On a fresh store
with no roles.yaml the first name to do a lead's work becomes the lead, as in the app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openai_loopback import Reply, judged_text, openai_server, verdict
from review_support import FULL, opts, synthetic_spans, write_roles

from goldenloop import review
from goldenloop.access import roles
from goldenloop.experiments import datasets
from goldenloop.review.claims import claim_item
from goldenloop.sampling import Uniform, create_queue, make_frame
from goldenloop.store import Store, audit

pytestmark = pytest.mark.timeout(1200)  # some 20 CLI processes, slow on a loaded machine
SPAN = {"trace_id": "t-new", "span_id": "s1", "user_id": "u-77", "app": "shop",
        "start_time": "2026-03-01T12:00:00", "end_time": "2026-03-01T12:00:01",
        "last_user_message": "hi", "output": "hello"}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GOLDENLOOP_USER",
                                                             "GOLDENLOOP_SECRETS")}
    return env | extra


def cli(db: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "goldenloop.cli", *args, "--db", str(db)],
                          capture_output=True, text=True, timeout=300, cwd=db.parent,
                          env=env or _env(HOME=str(db.parent)))


def refused(out: subprocess.CompletedProcess, who: str, action: str) -> None:
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert f"{who} may not {action}: that needs the lead role" in out.stderr, out.stderr


def allowed(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _graded(store: Store) -> int:
    """Spans, a queue of 8 items graded by two reviewers: enough for a golden version."""
    synthetic_spans(store, 60, seed=4)
    qid = create_queue(store, opts("graded", by="ana"), make_frame(), Uniform(8), seed=1).queue_id
    items = [i for (i,) in store.rows("SELECT queue_item_id FROM queue_items WHERE queue_id = ? "
                                      "AND NOT is_gold ORDER BY position", [qid])]
    for who in ("rita", "sam"):
        for item in items:
            claim = store.write(claim_item, item, who, 600)
            review.submit(store, claim, {**FULL, "correctness": 5})
    return qid


def test_each_kind_of_write_is_refused_for_a_reviewer_and_allowed_for_a_lead(store, tmp_path):
    write_roles(store, "leads: [ana]\n")  # any other name grades
    qid = _graded(store)
    db, folder = store.path, store.path.parent
    (folder / "span.jsonl").write_text(json.dumps(SPAN) + "\n")
    (folder / "qa.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "input": f"question {i}",
                                                         "expected": f"answer {i}"}) + "\n"
                                             for i in range(3)))
    datasets.import_file(store, "qa", folder / "qa.jsonl", by="ana")  # a test set to run
    store.close()

    def script(body: dict) -> Reply:
        if "response_format" in body and judged_text(body, "output") is not None:
            return verdict(reason="scripted", score=5)
        return Reply(content="answer " + body["messages"][-1]["content"].split()[-1])

    with openai_server(script) as srv:
        (folder / "targets").mkdir()
        (folder / "targets" / "bot.yaml").write_text(
            f"name: bot\nmodel: m\ntemplate: '{{{{ input }}}}'\nendpoint:\n  base_url: {srv.base_url}\n")
        env = _env(HOME=str(folder), OPENAI_BASE_URL=srv.base_url)
        kinds = [  # (arguments, the action refused, what the allowed run prints)
            (["import", "span.jsonl"], "import", "1 imported"),
            (["judge", "run", "correctness", "--queue", str(qid), "--budget", "0.5"],
             "run judge", "judged (0 from cache), 0 failed"),
            (["golden", "build", "gold", "--min-reviewers", "2", "--correct-at", "4"],
             "export", "gold"),
            (["golden", "export", "gold"], "export", "gold"),
            (["experiment", "run", "bot", "-d", "qa", "-s", "exact"], "experiment",
             "3 of 3 answered"),
            (["backup", str(folder / "b.duckdb")], "operate", "backup written"),
            (["forget", "--user-id", "u-77"], "operate", "spans: 1 removed"),
        ]
        for args, action, printed in kinds:
            refused(cli(db, *args, "--by", "Ben", env=env), "ben", action)
            assert printed in allowed(cli(db, *args, "--by", "ana", env=env)), args
    # A queue's Argilla push is a lead's queue work: refused before Argilla is asked.
    refused(cli(db, "argilla", "push", "--queue", str(qid), "--by", "ben"), "ben", "create queue")
    # No --by: $GOLDENLOOP_USER, else the login name, and the refusal says which.
    assert "30 days" in allowed(cli(db, "retention", "set", "shop", "30", "--by", "ana"))
    out = cli(db, "retention", "clear", "shop", env=_env(HOME=str(folder), GOLDENLOOP_USER="Cleo"))
    refused(out, "cleo", "operate")
    assert "you act as cleo ($GOLDENLOOP_USER)" in out.stderr
    login = roles.normalize_name(__import__("getpass").getuser())
    out = cli(db, "retention", "clear", "shop")
    if login != "ana":
        refused(out, login, "operate")
        assert f"you act as {login} (your login name)" in out.stderr
    assert "no retention policy" not in allowed(
        cli(db, "retention", "clear", "shop", env=_env(HOME=str(folder), GOLDENLOOP_USER="ana")))

    with Store(db, read_only=True, migrate_schema=False) as s:
        log = audit.entries(s)
        assert s.scalar("SELECT count(*) FROM golden_versions") == 1
        assert s.scalar("SELECT count(*) FROM experiment_runs") == 1
        assert s.scalar("SELECT count(*) FROM spans WHERE user_id = 'u-77'") == 0
    cli_rows = log[log["interface"] == "cli"]
    denied = cli_rows[cli_rows["action"] == "access.denied"]
    assert set(denied["actor"]) == {"ben", "cleo", login} - {"ana"}
    assert len(denied[denied["actor"] == "ben"]) == len(kinds) + 1
    done = set(cli_rows.loc[cli_rows["actor"] == "ana", "action"])
    assert {"import", "judge.run", "forget", "backup"} <= {a.split(":")[0] for a in done} | done, done
    assert "ben" not in set(log.loc[log["action"] != "access.denied", "actor"])


def test_on_a_fresh_store_the_first_name_to_do_a_leads_work_becomes_the_lead(tmp_path):
    db = tmp_path / "data" / "g.duckdb"
    db.parent.mkdir()
    (db.parent / "span.jsonl").write_text(json.dumps(SPAN) + "\n")
    env = _env(HOME=str(tmp_path), GOLDENLOOP_USER="First")
    out = cli(db, "import", "span.jsonl", env=env)
    assert "1 imported" in allowed(out)
    assert "first ($GOLDENLOOP_USER) is now the lead" in out.stderr  # said once, on stderr
    found = roles.load(db.parent)
    assert found.leads == {"first"} and found.bootstrap.startswith("the first to import")
    refused(cli(db, "backup", str(tmp_path / "b.duckdb"), "--by", "second"), "second", "operate")
    with Store(db, read_only=True, migrate_schema=False) as s:
        log = audit.entries(s)
    first = [(a, b.split(":")[0], i) for a, b, i in zip(
        log["actor"], log["action"], log["interface"], strict=True)][::-1][:2]
    assert first == [("first", "roles.bootstrap", "cli"), ("first", "import", "cli")]


def test_with_sign_in_on_the_cli_acts_only_as_a_name_in_roles_yaml(tmp_path):
    db = tmp_path / "data" / "g.duckdb"
    db.parent.mkdir()
    (db.parent / "span.jsonl").write_text(json.dumps(SPAN) + "\n")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[trusted_proxy]\nheader = "X-Email"\naddresses = ["127.0.0.1"]\n')
    env = _env(HOME=str(tmp_path), GOLDENLOOP_SECRETS=str(secrets))
    out = cli(db, "import", "span.jsonl", "--by", "ana@x.org", env=env)
    assert out.returncode == 2 and "no roles.yaml yet" in out.stderr, out.stderr
    assert not roles.roles_path(db.parent).exists()  # the CLI named no lead
    roles.roles_path(db.parent).write_text("leads: [ana@x.org]\n")
    out = cli(db, "import", "span.jsonl", "--by", "someone", env=env)
    assert out.returncode == 2 and "someone (--by) is not there" in out.stderr, out.stderr
    assert "1 imported" in allowed(cli(db, "import", "span.jsonl", "--by", "ana@x.org", env=env))
