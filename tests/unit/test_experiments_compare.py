"""Run comparison: the paired bootstrap interval covers the true difference at its stated rate
on synthetic runs, McNemar's test equals the exact binomial computed by hand, and two real
runs against the loopback endpoint show their regressions first, with the baseline."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from openai_loopback import Reply, openai_server

from goldenloop.errors import ExperimentError
from goldenloop.experiments import compare, datasets, runner, targets


@pytest.mark.parametrize("kind", ["continuous", "pass_fail"])
@pytest.mark.slow
def test_interval_covers_the_true_difference_at_its_stated_rate(kind):
    rng = np.random.default_rng(11)
    reps, n, truth = 300, 120, 0.1
    covered = 0
    for r in range(reps):
        if kind == "continuous":
            old = rng.beta(2, 2, n)
            d = np.clip(old + rng.normal(truth, 0.25, n), -5, 5) - old
        else:  # pass/fail: -1 with 0.1, +1 with 0.2, else 0 (mean 0.1)
            d = rng.choice([-1.0, 0.0, 1.0], size=n, p=[0.1, 0.7, 0.2])
        lo, hi = compare.paired_interval(d, n_resamples=999, seed=r)
        covered += lo <= truth <= hi
    rate = covered / reps
    # 95% stated; 300 replications give a standard error of about 1.3 points.
    assert 0.915 <= rate <= 0.985, rate


def _exact_mcnemar(b: int, c: int) -> float:
    n = b + c
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


@pytest.mark.parametrize(("b", "c"), [(7, 3), (0, 5), (12, 12), (1, 20), (0, 0)])
def test_mcnemar_is_the_exact_binomial_on_discordant_pairs(b, c):
    old = np.array([True] * b + [False] * c + [True] * 4 + [False] * 6)
    new = np.array([False] * b + [True] * c + [True] * 4 + [False] * 6)
    got_b, got_c, p = compare.mcnemar(old, new)
    assert (got_b, got_c) == (b, c)
    assert p == pytest.approx(_exact_mcnemar(b, c) if b + c else 1.0)


def _target(url, system):
    return targets.Target(spec=targets.parse(
        {"name": "bot", "model": "gpt-4o-mini", "system": system, "template": "{{ input }}",
         "endpoint": {"base_url": url}}, "bot.yaml"))


@pytest.mark.slow
def test_two_runs_regressions_first_with_statistics_and_baseline(store, tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"q{i:02d}", "input": f"question {i}",
                                          "expected": f"answer {i}"}) for i in range(30)))
    ds = datasets.import_file(store, "qa", path).dataset

    def script(body):
        new_prompt = "v2" in body["messages"][0]["content"]
        n = int(body["messages"][-1]["content"].split()[-1])
        right = n % 3 != 0 if not new_prompt else n % 5 != 0   # v2 breaks some, fixes others
        if new_prompt and n == 29:
            return Reply(status=400)                          # a failure counts as wrong
        return Reply(content=f"answer {n}" if right else "I do not know")

    with openai_server(script) as srv:
        old = runner.run(store, _target(srv.base_url, "prompt v1"), ds, ["exact", "token_f1"])
        new = runner.run(store, _target(srv.base_url, "prompt v2"), ds, ["exact", "token_f1"])
    with pytest.raises(ExperimentError, match="no baseline"):
        compare.compare(store, new.run_id)
    assert compare.mark_baseline(store, old.run_id).baseline
    c = compare.compare(store, new.run_id)                   # against the baseline
    assert c.old.run_id == old.run_id and len(c.items) == 30
    old_ok = {i for i in range(30) if i % 3 != 0}
    new_ok = {i for i in range(30) if i % 5 != 0} - {29}
    regressed, improved = old_ok - new_ok, new_ok - old_ok
    assert c.regressions == len(regressed) and c.improvements == len(improved)
    flagged = c.items[c.items["flag"] == "regression"]["item_key"]
    assert set(flagged) == {f"q{i:02d}" for i in regressed}
    assert list(c.items["flag"][:len(regressed)]) == ["regression"] * len(regressed)
    row = c.items.set_index("item_key").loc["q29"]
    assert row["status_new"] == "failed" and row["exact_new"] == 0 and row["exact_old"] == 1
    ex = c.scorers.set_index("scorer").loc["exact"]
    assert ex["n"] == 30
    assert ex["mean_diff"] == pytest.approx((len(new_ok) - len(old_ok)) / 30)
    assert ex["ci_low"] <= ex["mean_diff"] <= ex["ci_high"]
    assert (ex["passed_then_failed"], ex["failed_then_passed"]) == (len(regressed), len(improved))
    assert ex["mcnemar_p"] == pytest.approx(_exact_mcnemar(len(regressed), len(improved)))
    # The other run becomes the baseline: one baseline per target.
    compare.mark_baseline(store, new.run_id)
    assert store.scalar("SELECT count(*) FROM experiment_runs WHERE baseline") == 1
