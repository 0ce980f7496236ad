"""Speed of a golden set's review in Argilla, against a real Argilla server.

    ARGILLA_API_URL=... ARGILLA_API_KEY=<owner key> ANNOTATOR_KEY=<annotator key> \
        python benchmarks/bench_argilla_golden.py [--rows 2000]

Without the variables it starts the test server of tests/argilla_server.py and stops it.

- setup (not timed): ``--rows`` synthetic spans, each graded correct by one reviewer on
  goldenloop's Grade page, built into golden version 1;
- push: ``goldenloop argilla push --golden support@1`` (reading the rows and their targets'
  conversations, building the records, logging them, remembering them) against the bare SDK
  logging the same records to a fresh dataset with the same settings in the same run (the
  baseline, timed before and after; their mean is the baseline);
- pull: an annotator submits every record, one in ten with a corrected expected output
  (Argilla's bulk responses endpoint, not timed), then ``goldenloop argilla pull`` takes them
  in and makes the reviewed version (timed: the taking in and the version apart), and a
  second pull that finds nothing new.
Wall seconds and the process's CPU seconds are printed, with the load from ``uptime``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench_argilla import _server, _timed, submit_all
from timing import uptime

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _golden(store, n: int) -> None:
    from argilla_support import submit_in_goldenloop
    from review_support import FULL, synthetic_spans

    from goldenloop import golden
    from goldenloop.sampling import QueueOptions, create_hand_queue

    synthetic_spans(store, n, seed=9)
    keys = [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]
    qid = create_hand_queue(store, QueueOptions(name="bench", created_by="lead"),
                            span_keys=keys).queue_id
    for (item,) in store.rows("SELECT queue_item_id FROM queue_items WHERE queue_id = ?", [qid]):
        submit_in_goldenloop(store, item, "rita", {**FULL, "correctness": 5})
    golden.build(store, "support", golden.GoldenFilter(source="human", queue_ids=(qid,)), "lead")


def _bare(store, name: str):
    """The baseline: the SDK alone logging the same records (built beforehand, not timed)."""
    import argilla as rg

    from goldenloop import golden
    from goldenloop.argilla_sync import golden_push as GP
    from goldenloop.argilla_sync import settings as S

    v = golden.get_version(store, "support", 1)
    rows = golden.rows(store, v)
    rubric = GP.rubric_of(store, v, rows)
    gid = store.scalar("SELECT dataset_id FROM golden_versions WHERE version_id = ?",
                       [v.version_id])
    records = [rg.Record(id=GP.external_id(gid, r["row_key"]), fields=GP.record_fields(store, r),
                         metadata=GP.record_metadata(r, v),
                         suggestions=[rg.Suggestion(question_name=S.CORRECTED,
                                                    value=r["expected_output"],
                                                    agent=GP.SUGGESTION_AGENT, type="human")])
               for r in rows.to_dict("records")]
    cl = rg.Argilla(api_url=os.environ["ARGILLA_API_URL"], api_key=os.environ["ARGILLA_API_KEY"],
                    timeout=120)
    ds = rg.Dataset(name=name, workspace=cl.workspaces("goldenloop"), client=cl,
                    settings=S.settings(rg, rubric, 1, only=v.filter.criterion, golden=True))
    ds = ds.create()
    return _timed(lambda: ds.records.log(records))[1:]


def _submit_all(url: str, key: str, dataset_id: str) -> int:
    """Every record answered correct, one in ten with a corrected expected output."""
    return submit_all(url, key, dataset_id, lambda i: {
        "correctness": {"value": 4},
        **({"gl_corrected_answer": {"value": f"better {i % 100}"}} if i % 10 == 0 else {})})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2000)
    args = ap.parse_args()
    url, _owner, annotator, stop = _server()
    try:
        from goldenloop import argilla_sync
        from goldenloop.argilla_sync import golden_pull
        from goldenloop.schema import open_store

        stamp = int(time.time())
        with open_store(Path(tempfile.mkdtemp()) / "bench.duckdb") as store:
            _golden(store, args.rows)
            print(uptime())
            base1 = _bare(store, f"bench-golden-bare-{stamp}-1")
            r, wall, cpu = _timed(lambda: argilla_sync.push_golden(
                store, "support@1", pushed_by="lead", workspace="goldenloop",
                dataset=f"bench-golden-{stamp}"))
            base2 = _bare(store, f"bench-golden-bare-{stamp}-2")
            base = (base1[0] + base2[0]) / 2
            print(f"push {r.records:,} golden rows: {wall:.1f} s wall, {cpu:.1f} s CPU; bare SDK "
                  f"log: {base1[0]:.1f} s and {base2[0]:.1f} s wall (CPU {base1[1]:.1f}, "
                  f"{base2[1]:.1f}); ratio {wall / base:.2f}x")
            did = store.scalar("SELECT argilla_dataset_id FROM argilla_datasets")
            n = _submit_all(url, annotator, did)
            made = []
            real = golden_pull.make_version

            def timed_version(*a, **kw):
                out, w, c = _timed(lambda: real(*a, **kw))
                made.append((w, c))
                return out

            golden_pull.make_version = timed_version
            res, wall, cpu = _timed(lambda: argilla_sync.pull(store, "lead"))
            (vw, vc), = made
            print(f"pull {res[0].graded:,} of {n:,} submitted responses and make v"
                  f"{res[0].new_version}: {wall:.1f} s wall, {cpu:.1f} s CPU, of which the "
                  f"version {vw:.1f} s wall, {vc:.1f} s CPU")
            res, wall, cpu = _timed(lambda: argilla_sync.pull(store, "lead"))
            print(f"pull again ({res[0].unchanged:,} already pulled): {wall:.1f} s wall, "
                  f"{cpu:.1f} s CPU")
            print(uptime())
    finally:
        stop()


if __name__ == "__main__":
    main()
