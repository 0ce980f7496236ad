"""Fixing a judge that diverges: a lead edits a judge version into a new one (audited, leads
only), prices the run before it starts, re-runs it on the human-graded items only or on the
old version's disagreements (the loopback judge, the real openai client), compares the two
versions with paired intervals, and chooses the version production figures use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from judge_support import FAST, STRICT, _script
from openai_loopback import openai_server
from review_support import FULL, opts, synthetic_spans

from goldenloop import judge, review
from goldenloop.access import roles
from goldenloop.agreement import fitness
from goldenloop.agreement import sql as agreement_sql
from goldenloop.agreement.api import criterion_scale
from goldenloop.agreement.gate import default_rule
from goldenloop.agreement.versions import side_by_side
from goldenloop.judge.config import JudgeError
from goldenloop.sampling import Uniform, create_queue, make_frame
from goldenloop.store import audit


@pytest.fixture
def graded(store, monkeypatch):
    """300 spans, a queue of 120, the packaged judge run on it, a reviewer grading 60 items."""
    with openai_server(_script) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        truth = synthetic_spans(store, 300, seed=7)
        keys = store.df("SELECT span_key FROM spans ORDER BY span_key").span_key
        good = dict(zip(keys, truth, strict=True))
        q = create_queue(store, opts(), make_frame(), Uniform(120), seed=3)
        old = judge.get(store, "correctness")
        judge.run(store, old, judge.from_queue(store, old, q.queue_id), judge.RunOptions(retry=FAST))
        for _ in range(60):
            claim = review.next_item(store, q.queue_id, "ben")
            review.submit(store, claim, {**FULL, "correctness": 5 if good[claim.span_key] else 1})
        srv.requests.clear()
        yield store, old, srv


def _versions_side_by_side(store, versions):
    scale, rn, rv = criterion_scale(store, "correctness", None, None)
    pairs = agreement_sql.judge_human_pairs(store, "correctness", rubric_name=rn, rubric_version=rv)
    statistic = default_rule(scale.value_type).statistic  # the gate's, as the page uses
    return side_by_side(scale, pairs, versions, statistic, n_resamples=400)


def test_edit_makes_an_audited_version_only_a_lead_may_make(graded):
    store, old, _ = graded
    (store.path.parent / "roles.yaml").write_text("leads: [ana]\nreviewers: [ben]\n")
    with pytest.raises(roles.PermissionDenied, match="ben may not edit judge"):
        judge.edit(store, old.version, {"system": STRICT}, by="ben")
    with pytest.raises(JudgeError, match="cannot change criterion"):
        judge.edit(store, old.version, {"criterion": "tone"}, by="ana")
    with pytest.raises(JudgeError, match="nothing that makes a judge version changed"):
        judge.edit(store, old.version, {"description": "other words"}, by="ana")
    new = judge.edit(store, old.version, {"system": old.judge.system + STRICT, "temperature": 0.2},
                     by="Ana")
    assert new.version != old.version and new.name == old.name and len(new.version) == 12
    assert judge.load_version(store, new.version).version == new.version  # from the store
    log = audit.entries(store, action="judge.edit")
    assert len(log) == 1 and log.actor[0] == "ana" and log.target[0] == f"judge_version:{new.version}"
    assert f'"base_version": "{old.version}"' in log.details[0]
    assert '"changed": ["system", "temperature"]' in log.details[0]
    with pytest.raises(JudgeError, match="no judge version 'feedfeedfeed'"):
        judge.load_version(store, "feedfeedfeed")


def test_the_estimate_prices_exactly_what_the_run_sends(graded):
    store, old, srv = graded
    new = judge.edit(store, old.version, {"system": old.judge.system + STRICT}, by="lead")
    selection = judge.from_human_graded(store, new)
    assert selection.kind == "human_graded" and len(selection.targets) == 60
    assert all(t.inclusion_prob is None for t in selection.targets)
    est = judge.estimate_cost(store, new.version, selection)
    r = judge.run_params(store, {"judge_version": new.version, "human_graded": True})
    assert r.judged == 60 and len(srv.requests) == 60 == est.calls
    # Independently: the bytes the endpoint received, four to a token, at the table's price.
    sent = sum(len(m["content"].encode()) for b in srv.requests for m in b["messages"])
    assert est.input_tokens == -(-sent // 4)
    price = judge.price_of("gpt-4o-mini")
    assert est.cost_usd == pytest.approx((est.input_tokens * price.input_per_mtok
                                          + est.output_tokens * price.output_per_mtok) / 1e6)
    assert est.most_usd >= est.cost_usd and "60 calls for 60 targets" in est.describe()
    again = judge.estimate_cost(store, new, selection)  # now graded: nothing left to pay for
    assert (again.calls, again.already_graded, again.cost_usd) == (0, 60, 0.0)


def test_the_disagreement_list_is_where_the_old_version_and_a_reviewer_differ(graded):
    store, old, srv = graded
    g = store.df("SELECT target_id, source, value_number FROM live_grades "
                 "WHERE criterion = 'correctness'")
    both = g[g.source == "human"].merge(g[g.source == "judge"], on="target_id")
    expected = set(both.loc[both.value_number_x != both.value_number_y, "target_id"])
    assert 0 < len(expected) < 60
    new = judge.edit(store, old.version, {"system": old.judge.system + STRICT}, by="lead")
    selection = judge.from_disagreements(store, new, old.version)
    assert {t.target_id for t in selection.targets} == expected
    judge.run_params(store, {"judge_version": new.version, "disagreements_of": old.version})
    assert len(srv.requests) == len(expected)
    with pytest.raises(JudgeError, match="disagrees with no reviewer"):
        judge.from_disagreements(store, new, new.version)


def test_new_version_beside_old_with_paired_interval_and_chosen_for_production(graded):
    store, old, _ = graded
    new = judge.edit(store, old.version, {"system": old.judge.system + STRICT}, by="lead")
    judge.run_params(store, {"judge_version": new.version, "human_graded": True})
    table = _versions_side_by_side(store, [("correctness", old.version), ("correctness", new.version)])
    assert list(table.judge_version) == [old.version, new.version]
    assert (table.n_items == 60).all()  # the same items for both
    assert table.value[1] == pytest.approx(1.0)  # the fixed prompt agrees fully
    assert table.value[0] < 0.5 and table["diff"][1] == pytest.approx(table.value[1] - table.value[0])
    assert table.diff_low[1] > 0  # the paired interval excludes no improvement
    # Production: the default counts every fit version; a lead's choice counts alone while fit.
    newer = judge.edit(store, new.version, {"temperature": 0.1}, by="lead")
    judge.run_params(store, {"judge_version": newer.version, "human_graded": True})
    fit = fitness.choose(store, "correctness", n_resamples=200)
    assert fit.mode == "fit" and set(fit.versions) == {new.version, newer.version}
    judge.use_in_production(store, "correctness", newer.version, by="lead")
    chosen = fitness.choose(store, "correctness", n_resamples=200)
    assert chosen.mode == "preferred" and chosen.versions == (newer.version,)
    assert "a lead chose for production" in chosen.describe()
    judge.use_in_production(store, "correctness", old.version, by="lead")  # not fit: ignored
    assert fitness.choose(store, "correctness", n_resamples=200).versions == fit.versions
    assert judge.production_versions(store) == {"correctness": old.version}
    log = audit.entries(store, action="judge.production")
    assert [json.loads(d)["version"] for d in log.details] == [old.version, newer.version]
    with pytest.raises(JudgeError, match="never graded 'correctness'"):
        judge.use_in_production(store, "correctness", "feedfeedfeed", by="lead")


def test_cli_runs_an_edited_version_on_the_disagreements(graded):
    store, old, srv = graded
    new = judge.edit(store, old.version, {"system": old.judge.system + STRICT}, by="lead")
    expected = len(judge.from_disagreements(store, new, old.version).targets)
    store.close()
    env = os.environ | {"OPENAI_BASE_URL": srv.base_url}
    out = subprocess.run([sys.executable, "-m", "goldenloop.cli", "judge", "run", "correctness",
                          "--version", new.version, "--disagreements-of", old.version,
                          "--db", str(store.path)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"{expected} of {expected} judged" in out.stdout and len(srv.requests) == expected
