"""Any existing judge as an experiment scorer, run over a run's answers after its calls.

Each answer is an ``item`` target (``experiment:RUN:ITEM``) of an ordinary judge run, so
the judge's client, cache, budget, failure log and grades (source ``judge``) are the same as
everywhere else. A pointwise judge sees the input, the answer and the expected output (as
``reference``); a pairwise judge compares the expected output (A) with the answer (B), so 1
means the new answer was preferred, 0.5 a tie. The judge's verdicts are copied to the run's
scores: a numeric scale passes in its top quarter (4 and 5 on 1-5), a pairwise verdict
passes at a tie or better; a failed call or judge failure scores as failed with its reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from goldenloop.errors import ExperimentError
from goldenloop.store import Store

_PAIRWISE = {"A": 0.0, "tie": 0.5, "B": 1.0}


def target_id(run_id: int, item_key: str) -> str:
    return f"experiment:{run_id}:{item_key}"


def score_with_judge(store: Store, run_id: int, judge_name: str, opts: Any,
                     budget_left: float | None = None) -> float:
    """Judge the run's answers and write the verdicts as its scores, spending at most
    ``budget_left`` (None: no limit); returns what the judge's calls cost."""
    from goldenloop import judge as judges
    from goldenloop.experiments.runner import _SCORE_SCHEMA, insert_rows

    j = load_judge(store, judge_name)
    rows = store.df("""SELECT r.item_key, r.output, r.status, r.error, i.input, i.expected
                       FROM experiment_results r
                       JOIN experiment_runs u USING (run_id)
                       JOIN experiment_items i ON i.dataset_id = u.dataset_id
                                              AND i.item_key = r.item_key
                       WHERE r.run_id = ?""", [run_id]).to_dict("records")
    pairwise = j.judge.kind == "pairwise"
    targets = []
    for r in rows:
        if r["status"] != "ok" or (pairwise and r["expected"] is None):
            continue
        v = {"input": r["input"], "output": r["output"], "reference": r["expected"]}
        if pairwise:
            v = {"input": r["input"], "output_a": r["expected"], "output_b": r["output"]}
        targets.append(judges.Target("item", target_id(run_id, r["item_key"]), None, None, v))
    cost = 0.0
    if targets:
        result = judges.run(store, j, judges.Selection("experiment", {"experiment_run": run_id},
                                                       targets),
                            judges.RunOptions(concurrency=opts.concurrency,
                                              budget_usd=None if budget_left is None
                                              else max(0.0, budget_left),
                                              prices=opts.prices, cancel=opts.cancel))
        cost = result.cost_usd
    verdicts = _verdicts(store, j.version, run_id)
    source = store.scalar("SELECT source FROM experiment_runs WHERE run_id = ?", [run_id])
    now = datetime.now(UTC).replace(tzinfo=None)
    out = []
    for r in rows:
        value, passed, detail = None, False, None
        if r["status"] != "ok":
            value, detail = _floor(j), f"the call failed: {r['error']}"
        elif (v := verdicts.get(r["item_key"])) is None:
            detail = "the judge gave no verdict (see goldenloop judge failures)"
            passed = None
        else:
            value, passed = _value(j, v)
            detail = v.get("comment")
        out.append({"run_id": run_id, "item_key": r["item_key"], "scorer": f"judge:{j.name}",
                    "scorer_version": j.version, "value": value, "passed": passed,
                    "detail": detail, "source": source, "created_at": now})
    store.write(lambda cur: insert_rows(cur, "experiment_scores", out, _SCORE_SCHEMA))
    return cost


def load_judge(store: Store, judge_name: str):
    from goldenloop import judge as judges

    try:
        return judges.get(store, judge_name)
    except judges.JudgeError as exc:
        raise ExperimentError(f"scorer judge:{judge_name}: {exc}") from None


def _verdicts(store: Store, version: str, run_id: int) -> dict[str, dict[str, Any]]:
    prefix = f"experiment:{run_id}:"
    df = store.df("""SELECT target_id, arg_max(value_number, created_at) AS value_number,
                            arg_max(value_label, created_at) AS value_label,
                            arg_max(comment, created_at) AS comment
                     FROM grades WHERE source = 'judge' AND target_type = 'item'
                       AND judge_version = ? AND starts_with(target_id, ?)
                     GROUP BY target_id""", [version, prefix])
    return {r["target_id"][len(prefix):]: r for r in df.to_dict("records")}


def _floor(j) -> float | None:
    c = j.criterion
    if j.judge.kind == "pairwise":
        return 0.0
    return float(c.scale[0]) if c.scale is not None else 0.0


def _value(j, v: dict[str, Any]) -> tuple[float | None, bool | None]:
    if j.judge.kind == "pairwise":
        value = _PAIRWISE.get(v.get("value_label"))
        return value, None if value is None else value >= 0.5
    c = j.criterion
    number = v.get("value_number")
    if number is None or number != number:
        label = (v.get("value_label") or "").lower()
        ok = label in ("true", "pass", "yes", "correct")
        return float(ok), ok
    if c.scale is not None:
        lo, hi = c.scale
        return float(number), float(number) >= lo + 0.75 * (hi - lo)
    return float(number), bool(number)
