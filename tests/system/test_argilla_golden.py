"""A golden set version reviewed in Argilla (tests/argilla_server.py runs a real server):
push ``support@1``, annotators answer through Argilla's REST API as the web UI does (a grade
with a corrected expected output, a disagreeing grade, a discard, a draft), pull: the answers
become human grades and a correction of the rows' targets, and the reviewed version v2 is
made from v1's rows with its provenance, while v1 stays as it was. Pulling again changes
nothing; a changed answer supersedes and makes v3; pushing v3 to the same dataset updates
the records, never duplicates them. Also: the commands and the scheduled pull, plain errors,
and a row erased (goldenloop forget) since the push: its record leaves Argilla too."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest
from argilla_support import change, graded_golden, records_of, respond
from typer.testing import CliRunner

from goldenloop import argilla_sync
from goldenloop import golden as G
from goldenloop.agreement import sql as aq
from goldenloop.argilla_sync import settings as S
from goldenloop.argilla_sync.golden_push import external_id
from goldenloop.argilla_sync.jobs import SCHEDULED_AUTHOR, pull_job, push_job
from goldenloop.cli import app
from goldenloop.ops.forget import forget
from goldenloop.schema import open_store

pytest_plugins = ["argilla_server"]  # the server fixture (tests/argilla_server.py)
_names = itertools.count()
ROWS, SPANS = 6, 40


@pytest.fixture
def env(argilla_server, monkeypatch):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.owner_key)
    return argilla_server


def _counts(s) -> tuple:
    return tuple(s.scalar(f"SELECT count(*) FROM {t}") for t in
                 ("grades", "corrections", "argilla_pulls", "argilla_records", "golden_versions",
                  "golden_rows", "argilla_golden_versions"))


def _row(s, version: int, key: str) -> dict:
    v = G.get_version(s, "support", version)
    rows = G.rows(s, v)
    found = rows[rows["row_key"] == key]
    return found.iloc[0].to_dict() if len(found) else {}


def test_golden_review_round_trip(env, store):
    s = store
    graded_golden(s, SPANS, ROWS)
    v1 = G.get_version(s, "support", 1)
    v1_rows = G.rows(s, v1)
    assert v1.rows == ROWS and set(v1_rows["expected_source"]) == {"graded_output"}
    name = f"golden-review-{next(_names)}"
    pushed = argilla_sync.push_golden(s, "support@1", pushed_by="lead", workspace="goldenloop",
                                      dataset=name)
    assert (pushed.records, pushed.new_records, pushed.suggestions) == (ROWS, ROWS, ROWS)
    again = argilla_sync.push_golden(s, "support@v1", pushed_by="lead", workspace="goldenloop",
                                     dataset=name)
    assert (again.link_id, again.new_records) == (pushed.link_id, 0)
    did = s.scalar("SELECT argilla_dataset_id FROM argilla_datasets WHERE link_id = ?",
                   [pushed.link_id])
    gid = s.scalar("SELECT dataset_id FROM golden_datasets WHERE name = 'support'")
    keys = list(v1_rows["row_key"])
    ext = {k: external_id(gid, k) for k in keys}
    with env.annotator_client("ana") as h:
        seen = records_of(h, did)
    assert set(seen) == set(ext.values())  # the second push updated, not duplicated
    shown = seen[ext[keys[0]]]
    assert shown["fields"]["expected_output"] == v1_rows["expected_output"][0]
    assert shown["fields"]["output"] == v1_rows["output"][0]

    k0, k1, k2, k3 = keys[:4]
    plan = [("ana", k0, {"correctness": 4, S.CORRECTED: "A better answer."}, "submitted"),
            # the suggested expected output sent back unchanged: no correction
            ("ben", k1, {"correctness": 2, S.CORRECTED: v1_rows["expected_output"][1]},
             "submitted"),
            ("ana", k2, None, "discarded"),
            ("ben", k3, {"correctness": 1}, "draft")]
    responses = {}
    for who, key, answers, status in plan:
        with env.annotator_client(who) as h:
            rec = records_of(h, did)[ext[key]]
            responses[(who, key)] = respond(h, rec["id"], answers, status)

    first = argilla_sync.pull(s, "lead", golden="support")[0]
    assert (first.graded, first.discarded, first.drafts, first.set_aside) == (2, 1, 1, 0)
    assert (first.new_version, first.version_created) == (2, True)
    pulled = s.df("SELECT author_id, target_id, value_number, rubric_version, queue_item_id "
                  "FROM live_grades WHERE author_id IN ('ana', 'ben') ORDER BY author_id")
    assert list(pulled["author_id"]) == ["ana", "ben"] and pulled["queue_item_id"].isna().all()
    assert list(pulled["value_number"]) == [4.0, 2.0]
    corrections = s.rows("SELECT author_id, corrected_output FROM live_corrections")
    assert corrections == [("ana", "A better answer.")]
    humans = aq.live_grades(s, "correctness")  # what the Agreement page counts
    humans = humans[humans["side"] == "human"]
    assert {("ana", 4.0), ("ben", 2.0)} <= {(r.author_id, float(r.value))
                                           for r in humans.itertuples()}

    # v1 is untouched; v2 holds v1's rows as reviewed, with where it came from
    assert G.get_version(s, "support", 1).content_hash == v1.content_hash
    assert G.rows(s, G.get_version(s, "support", 1)).equals(v1_rows)
    v2 = G.get_version(s, "support", 2)
    prov = v2.counts["derived_from"]
    assert (prov["version"], prov["argilla_dataset"], prov["responses"]) == (1, name, 3)
    d = G.diff(s, "support", 1, 2)
    assert list(d.removed["row_key"]) == [k1]          # ben disagrees with rita: no verdict
    assert list(d.changed["row_key"]) == [k0] and len(d.added) == 0
    r0 = _row(s, 2, k0)
    assert (r0["expected_output"], r0["expected_source"]) == ("A better answer.", "correction")
    assert sorted(r0["reviewers"]) == ["ana", "rita"]
    assert r0["inclusion_prob"] == pytest.approx(ROWS / SPANS)  # the sampling design kept
    assert _row(s, 2, k2)["row_hash"] == _row(s, 1, k2)["row_hash"]  # discarded: unchanged

    before = _counts(s)
    second = argilla_sync.pull(s, "lead", golden="support")[0]
    assert (second.graded, second.discarded, second.unchanged, second.new_version) == (0, 0, 3,
                                                                                        None)
    assert _counts(s) == before

    with env.annotator_client("ben") as h:
        change(h, responses[("ben", k1)]["id"], {"correctness": 5})
    third = argilla_sync.pull(s, "lead", golden="support")[0]
    assert (third.graded, third.superseded, third.unchanged) == (1, 1, 2)
    assert (third.new_version, third.version_created) == (3, True)
    assert s.rows("SELECT value_number FROM live_grades WHERE author_id = 'ben'") == [(5.0,)]
    assert _row(s, 3, k1)["label"] == "5" and G.get_version(s, "support", 3).rows == ROWS

    [st] = argilla_sync.status(s, golden="support")
    assert (st.golden, st.reviewed_version, st.waiting, st.error) == ("support@1", 3, 0, None)
    assert (st.records, st.submitted, st.discarded, st.drafts) == (ROWS, 2, 1, 1)
    assert (st.pulled_graded, st.pulled_discarded) == (2, 1)

    # the reviewed version pushed to the same dataset: records updated, none added
    v3_push = argilla_sync.push_golden(s, "support@3", pushed_by="lead",
                                       workspace="goldenloop", dataset=name)
    assert (v3_push.link_id, v3_push.new_records) == (pushed.link_id, 0)
    with env.owner_client() as owner:
        items = owner.get(f"/api/v1/datasets/{did}/records", params={"limit": 1000}).json()
    assert len(items["items"]) == ROWS
    assert s.scalar("SELECT golden_version_id FROM argilla_datasets WHERE link_id = ?",
                    [pushed.link_id]) == G.get_version(s, "support", 3).version_id


def test_golden_push_errors_write_nothing(env, store, monkeypatch):
    s = store
    graded_golden(s, SPANS, 3)
    with pytest.raises(G.DatasetNotFound, match="no version 9"):
        argilla_sync.push_golden(s, "support@9", pushed_by="lead", workspace="goldenloop")
    with pytest.raises(G.GoldenError, match="NAME@VERSION"):
        argilla_sync.push_golden(s, "support@latest", pushed_by="lead")
    with pytest.raises(argilla_sync.ArgillaSyncError, match="no workspace 'nowhere'"):
        argilla_sync.push_golden(s, "support", pushed_by="lead", workspace="nowhere")
    monkeypatch.setenv("ARGILLA_API_KEY", "not-a-key")
    with pytest.raises(argilla_sync.ArgillaSyncError, match="authentication"):
        argilla_sync.push_golden(s, "support@1", pushed_by="lead", workspace="goldenloop")
    assert s.scalar("SELECT count(*) FROM argilla_datasets") == 0
    assert s.scalar("SELECT count(*) FROM argilla_records") == 0


def run(*args: str) -> str:
    r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def test_cli_push_status_scheduled_pull_then_pull_makes_the_version(env, tmp_path):
    path = tmp_path / "goldenloop.duckdb"
    with open_store(path) as s:
        graded_golden(s, SPANS, 3)
    common = ("--db", str(path), "--author", "lead")
    out = run("argilla", "push", "--golden", "support@1", "--workspace", "goldenloop",
              "--dataset", "golden-cli", *common)
    assert "golden support@1 -> Argilla dataset golden-cli (workspace goldenloop): 3 records " \
           "sent, 3 new, 3 expected-output suggestions" in out
    with open_store(path) as s:
        did = s.scalar("SELECT argilla_dataset_id FROM argilla_datasets")
        # the job the CLI queues while a server owns the database
        done = push_job(s, {"golden": "support@1", "dataset": "golden-cli", "reviewers": 1,
                            "workspace": "goldenloop", "author": "lead"}, lambda *a: None)
        assert done["summary"] == "golden-cli: 3 records sent, 0 new"
    with env.annotator_client("ana") as h:
        rec = next(iter(records_of(h, did).values()))
        respond(h, rec["id"], {"correctness": 4}, "submitted")

    # the owner's scheduled pull takes the response in; it makes no version
    with open_store(path) as s:
        done = pull_job(s, {"author": SCHEDULED_AUTHOR}, lambda *a: None)
        assert done["graded"] == 1 and "reviewed golden" not in done["summary"]
        assert len(G.versions(s, "support")) == 1
    out = run("argilla", "status", "--golden", "support", "--db", str(path))
    assert "golden support@1 -> golden-cli (goldenloop)" in out
    assert "reviewed version: none yet; responses taken in that no version holds yet: 1" in out

    out = run("argilla", "pull", "--golden", "support", *common)
    assert "golden-cli: 0 graded" in out and "1 already pulled" in out
    assert "reviewed version made: support v2 (from support@1)" in out
    out = run("argilla", "pull", "--golden", "support", *common)
    assert "no new responses since the last reviewed version: no version made" in out
    assert "reviewed version: v2; responses taken in that no version holds yet: 0" in run(
        "argilla", "status", "--db", str(path))


def test_cli_golden_errors_are_one_plain_line(tmp_path):
    path = tmp_path / "goldenloop.duckdb"
    with open_store(path) as s:
        graded_golden(s, SPANS, 2)
    env = {**os.environ, "ARGILLA_API_URL": "http://127.0.0.1:9", "ARGILLA_API_KEY": "k"}
    for args, said in [(("--golden", "support@7"), "golden dataset 'support' has no version 7"),
                       (("--golden", "support@1"), "Argilla server unreachable at "
                                                   "http://127.0.0.1:9"),
                       (("--golden", "support@1", "--queue", "1"),
                        "name one of --queue ID or --golden NAME@VERSION")]:
        done = subprocess.run([sys.executable, "-c", "from goldenloop.cli import main; main()",
                               "argilla", "push", *args, "--db", str(path), "--author", "lead"],
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done.stderr
        assert said in " ".join(done.stderr.split()) and "Traceback" not in done.stderr
    with open_store(path) as s:
        assert s.scalar("SELECT count(*) FROM argilla_datasets") == 0


def test_a_row_erased_since_the_push_leaves_argilla_too(env, store):
    s = store
    graded_golden(s, SPANS, 3)
    rows = G.rows(s, G.get_version(s, "support", 1))
    gone, kept = rows.iloc[0], rows.iloc[1]
    argilla_sync.push_golden(s, "support@1", pushed_by="lead", workspace="goldenloop",
                             dataset=f"golden-erased-{next(_names)}")
    forget(s, "trace_id", gone["trace_id"], requested_by="lead", rewrite=False)
    did = s.scalar("SELECT argilla_dataset_id FROM argilla_datasets")
    gid = s.scalar("SELECT dataset_id FROM golden_datasets WHERE name = 'support'")
    with env.annotator_client("ana") as h:
        found = records_of(h, did)
        assert external_id(gid, gone["row_key"]) not in found  # erased in Argilla as well
        respond(h, found[external_id(gid, kept["row_key"])]["id"], {"correctness": 4},
                "submitted")
    [r] = argilla_sync.pull(s, "lead", golden="support")
    assert (r.graded, r.set_aside) == (1, 0)
    assert s.rows("SELECT target_id FROM live_grades WHERE author_id = 'ana'") == [
        (kept["target_id"],)]
    assert r.version_created and G.get_version(s, "support", r.new_version).rows == len(rows) - 1
