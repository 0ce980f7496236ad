"""The demo figures the README quotes, computed the way the Queues page computes them.

    python scripts/demo_figures.py --db data/goldenloop.duckdb   # your demo database
    python scripts/demo_figures.py --end 2026-03-02T12:00        # a fresh default demo

The demo ends at the hour it is generated, so its figures move a little from one hour to
the next; the README quotes those of the demo ending at ``README_END`` (seed 7, default
size), and ``tests/test_readme_figures.py`` checks that the README says what this prints.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime
from pathlib import Path

from goldenloop import estimation
from goldenloop.demo.queue import NAME
from goldenloop.estimation import ppi
from goldenloop.schema import open_store
from goldenloop.store import Store

README_END = datetime(2026, 3, 2, 12)


def figures(store: Store) -> dict:
    """The demo queue's frame, sample and correctness >= 4 estimates (reviewers alone, and
    with the judge versions fit for use by PPI)."""
    qid = int(store.scalar("SELECT queue_id FROM queues WHERE name = ?", [NAME]))
    human = estimation.estimate(store, qid, "correctness", at_least=4)
    both = ppi.queue_estimate(store, qid, "correctness", at_least=4)
    return {"eligible": int(store.scalar("SELECT population_size FROM queues WHERE queue_id = ?",
                                         [qid])),
            "sampled": human.n_sampled, "graded": human.n_graded,
            "human": (human.value, human.ci_low, human.ci_high),
            "ppi": (both.value, both.ci_low, both.ci_high)}


def sentence(f: dict) -> str:
    """The README's sentence, one line (the README wraps it)."""
    def pct(v: tuple) -> tuple[str, str, str]:
        return tuple(f"{100 * x:.1f}" for x in v)

    h, p = pct(f["human"]), pct(f["ppi"])
    return (f"{f['eligible']:,} eligible spans, {f['sampled']:,} in the queue, "
            f"{f['graded']:,} graded by reviewers: **Queues** shows correctness ≥ 4 at {h[0]}% "
            f"(95% interval {h[1]}–{h[2]}%) from the reviewers alone, and {p[0]}% "
            f"({p[1]}–{p[2]}%) with the demo judge's grades (prediction-powered inference).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, help="a database holding the demo")
    ap.add_argument("--end", type=datetime.fromisoformat,
                    help="generate the default demo ending at this UTC hour instead")
    args = ap.parse_args()
    if args.db:
        with open_store(args.db) as s:
            print(sentence(figures(s)))
        return
    from goldenloop.demo import generate

    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "demo.duckdb") as s:
        generate(s, end=args.end or README_END)
        print(sentence(figures(s)))


if __name__ == "__main__":
    main()
