"""Speed of the Argilla round trip against a real Argilla server.

    ARGILLA_API_URL=... ARGILLA_API_KEY=<owner key> ANNOTATOR_KEY=<annotator key> \
        python benchmarks/bench_argilla.py [--records 2000]

Without the variables it starts the test server of tests/argilla_server.py (its own venv,
osmem, redis) and stops it at the end.

- push: ``goldenloop argilla push`` of a queue of ``--records`` span items (reading the items
  and their conversations, building the records, logging them, remembering them), against the
  bare SDK logging the same records to a fresh dataset with the same settings, in the same
  run (the baseline); each timed once, baseline first and last, the mean of the two is the
  baseline;
- pull: an annotator submits every record (Argilla's bulk responses endpoint, not timed), then
  ``goldenloop argilla pull`` takes them in as grades (timed), and a second pull that finds
  nothing new (timed).
Wall seconds and the process's CPU seconds are printed, with the load from ``uptime``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
from timing import uptime

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def _server():
    """(url, owner key, annotator key, stop) from the environment or a started test server."""
    if os.environ.get("ARGILLA_API_URL"):
        return (os.environ["ARGILLA_API_URL"], os.environ["ARGILLA_API_KEY"],
                os.environ["ANNOTATOR_KEY"], lambda: None)
    import argilla_server as A

    class Factory:
        def mktemp(self, name):
            return Path(tempfile.mkdtemp(prefix=name))

    gen = A.argilla_server._get_wrapped_function()(Factory())
    srv = next(gen)
    os.environ["ARGILLA_API_URL"], os.environ["ARGILLA_API_KEY"] = srv.url, srv.owner_key
    return srv.url, srv.owner_key, srv.annotators["ana"], lambda: next(gen, None)


def _queue(store, n: int) -> int:
    from review_support import synthetic_spans

    from goldenloop.sampling import QueueOptions, create_hand_queue

    synthetic_spans(store, n, seed=9)
    keys = [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]
    return create_hand_queue(store, QueueOptions(name="bench", created_by="lead"),
                             span_keys=keys).queue_id


def _bare(store, qid: int, name: str) -> None:
    """The baseline: the SDK alone logging the same records (built beforehand, not timed)."""
    import argilla as rg

    from goldenloop import review
    from goldenloop import rubric as rubrics
    from goldenloop.argilla_sync import push as P
    from goldenloop.argilla_sync import settings as S
    from goldenloop.argilla_sync import sql

    q = review.get_queue(store, qid)
    rubric = rubrics.get(store, q.rubric_name, q.rubric_version)
    items = sql.queue_items(store, qid)
    records = [rg.Record(id=P.external_id(qid, it["queue_item_id"]),
                         fields=P.fields(review.payload_for(store, it["target_type"],
                                                            it["target_id"])),
                         metadata=P._metadata(it, qid)) for it in items]
    cl = rg.Argilla(api_url=os.environ["ARGILLA_API_URL"], api_key=os.environ["ARGILLA_API_KEY"],
                    timeout=120)
    ws = cl.workspaces("goldenloop")
    ds = rg.Dataset(name=name, workspace=ws, settings=S.settings(rg, rubric, 1), client=cl).create()

    def log():
        ds.records.log(records)

    return _timed(log)[1:]


def submit_all(url: str, key: str, dataset_id: str, values_of) -> int:
    """An annotator submits every record of the dataset, ``values_of(i)`` the answers to the
    i-th record (Argilla's record search and bulk responses endpoints); returns how many."""
    with httpx.Client(base_url=url, timeout=300, headers={"X-Argilla-Api-Key": key}) as h:
        ids, offset = [], 0
        while True:
            page = h.post(f"/api/v1/me/datasets/{dataset_id}/records/search",
                          params={"limit": 1000, "offset": offset}, json={}).json()["items"]
            ids += [i["record"]["id"] for i in page]
            if len(page) < 1000:
                break
            offset += 1000
        for start in range(0, len(ids), 100):
            items = [{"values": values_of(start + i), "status": "submitted", "record_id": rid}
                     for i, rid in enumerate(ids[start:start + 100])]
            h.post("/api/v1/me/responses/bulk", json={"items": items}).raise_for_status()
        return len(ids)


def _submit_all(url: str, key: str, dataset_id: str) -> int:
    from review_support import FULL

    values = {k: {"value": v} for k, v in FULL.items()}
    return submit_all(url, key, dataset_id, lambda _i: values)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    args = ap.parse_args()
    url, _owner, annotator, stop = _server()
    try:
        from goldenloop import argilla_sync
        from goldenloop.schema import open_store

        stamp = int(time.time())
        with open_store(Path(tempfile.mkdtemp()) / "bench.duckdb") as store:
            qid = _queue(store, args.records)
            print(uptime())
            base1 = _bare(store, qid, f"bench-bare-{stamp}-1")
            r, wall, cpu = _timed(lambda: argilla_sync.push_queue(
                store, qid, pushed_by="lead", workspace="goldenloop", dataset=f"bench-{stamp}"))
            base2 = _bare(store, qid, f"bench-bare-{stamp}-2")
            base = (base1[0] + base2[0]) / 2
            print(f"push {r.records:,} records: {wall:.1f} s wall, {cpu:.1f} s CPU; bare SDK "
                  f"log: {base1[0]:.1f} s and {base2[0]:.1f} s wall (CPU {base1[1]:.1f}, "
                  f"{base2[1]:.1f}); ratio {wall / base:.2f}x (goal <= 1.5x)")
            did = store.scalar("SELECT argilla_dataset_id FROM argilla_datasets")
            n = _submit_all(url, annotator, did)
            res, wall, cpu = _timed(lambda: argilla_sync.pull(store, "lead"))
            print(f"pull {res[0].graded:,} of {n:,} submitted responses: {wall:.1f} s wall, "
                  f"{cpu:.1f} s CPU (goal < 10 s)")
            res, wall, cpu = _timed(lambda: argilla_sync.pull(store, "lead"))
            print(f"pull again ({res[0].unchanged:,} already pulled): {wall:.1f} s wall, "
                  f"{cpu:.1f} s CPU")
            print(uptime())
    finally:
        stop()


if __name__ == "__main__":
    main()
