"""Reading runs back: the list of runs with their scorer means, one run's items with their
outputs and scores, and the runs still in progress (for the page's progress bars)."""

from __future__ import annotations

import pandas as pd

from goldenloop.experiments.schema import ensure_tables
from goldenloop.store import Store


def runs(store: Store, *, target: str | None = None, source: str | None = None,
         suite: str | None = None, limit: int = 50) -> pd.DataFrame:
    """Runs newest first, with ``means`` (scorer → mean value) and ``pass_rates``."""
    ensure_tables(store)
    where, params = ["true"], []
    for col, value in (("r.target_name", target), ("r.source", source), ("r.suite", suite)):
        if value is not None:
            where.append(f"{col} = ?")
            params.append(value)
    df = store.df(f"""
        WITH m AS (SELECT run_id, scorer, avg(value) AS mean, avg(passed::INT) AS pass_rate
                   FROM experiment_scores GROUP BY ALL)
        SELECT r.run_id, r.source, r.suite, r.target_name, r.target_version,
               d.name || '@' || d.version AS dataset, r.status, r.items, r.answered, r.failed,
               r.not_run, r.calls, r.cost_usd, r.budget_usd, r.seconds, r.model_versions,
               coalesce(r.baseline, false) AS baseline, r.started_at, r.finished_at, r.message,
               (SELECT map(list(scorer ORDER BY scorer), list(mean ORDER BY scorer))
                FROM m WHERE m.run_id = r.run_id) AS means,
               (SELECT map(list(scorer ORDER BY scorer), list(pass_rate ORDER BY scorer))
                FROM m WHERE m.run_id = r.run_id) AS pass_rates
        FROM experiment_runs r LEFT JOIN experiment_datasets d USING (dataset_id)
        WHERE {' AND '.join(where)}
        ORDER BY r.run_id DESC LIMIT {int(limit)}""", params)
    for col in ("means", "pass_rates"):
        df[col] = df[col].map(lambda m: dict(m) if m is not None and len(m) else {})
    return df


def run_items(store: Store, run_id: int) -> pd.DataFrame:
    """One row per item of the run: input, expected, output, status, error, model version and
    one column per scorer."""
    base = store.df("""SELECT i.item_key, i.input, i.expected, r.output, r.status, r.failure,
                              r.error, r.model_version, r.latency_ms, r.cost_usd, i.span_key
                       FROM experiment_results r JOIN experiment_runs u USING (run_id)
                       JOIN experiment_items i ON i.dataset_id = u.dataset_id
                                              AND i.item_key = r.item_key
                       WHERE r.run_id = ? ORDER BY i.position""", [run_id])
    scores = store.df("SELECT item_key, scorer, value FROM experiment_scores WHERE run_id = ?",
                      [run_id])
    if scores.empty:
        return base
    wide = scores.pivot_table(index="item_key", columns="scorer", values="value", aggfunc="last")
    return base.merge(wide.reset_index(), on="item_key", how="left")


def in_progress(store: Store) -> pd.DataFrame:
    ensure_tables(store)
    return store.df("""SELECT run_id, target_name, source, items, answered, failed,
                              (answered + failed) / greatest(items, 1) AS fraction, started_at
                       FROM experiment_runs WHERE status = 'running' ORDER BY run_id""")
