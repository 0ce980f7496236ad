"""The Experiments page in-process (AppTest) over a real database: the empty state, the runs
table, a comparison whose counts match the library's, and a canary's series and changed
answers; model output is shown as data, never rendered as Markdown."""

from __future__ import annotations

import json

from app_support import app_page
from openai_loopback import Reply, openai_server

from goldenloop.experiments import canaries, compare, datasets, runner, targets
from goldenloop.schema import open_store

HOSTILE = "**bold** <img src=http://example.com/x.png> [link](http://example.com)"


def _runs(db, tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"q{i}", "input": f"question {i}",
                                          "expected": f"answer {i}"}) for i in range(8)))

    def script(body):
        v2 = "v2" in body["messages"][0]["content"]
        n = int(body["messages"][-1]["content"].split()[-1])
        return Reply(content=HOSTILE if v2 and n < 3 else f"answer {n}")

    with open_store(db) as s, openai_server(script) as srv:
        ds = datasets.import_file(s, "qa", path).dataset
        ids = []
        for system in ("prompt v1", "prompt v2"):
            t = targets.Target(spec=targets.parse({
                "name": "bot", "model": "m", "system": system, "template": "{{ input }}",
                "endpoint": {"base_url": srv.base_url}}, "bot.yaml"))
            ids.append(runner.run(s, t, ds, ["exact"], runner.RunOptions(
                concurrency=2, source="canary", suite="nightly")).run_id)
        folder = db.parent / "targets"
        folder.mkdir()
        (folder / "bot.yaml").write_text(f"name: bot\nmodel: m\nendpoint:\n  base_url: {srv.base_url}\n")
        canaries.save(s, canaries.parse({"name": "nightly", "target": "bot", "dataset": "qa"}))
        expected = compare.compare(s, ids[1], ids[0])
    return ids, expected


def test_empty_state(app_db):
    open_store(app_db).close()
    at = app_page("experiments")
    assert "No runs yet" in "\n".join(str(i.value) for i in at.info)


def test_runs_comparison_and_canary(app_db, tmp_path):
    ids, expected = _runs(app_db, tmp_path)
    at = app_page("experiments")
    runs = at.dataframe[0].value
    assert sorted(runs["run_id"]) == sorted(ids)
    texts = "\n".join(str(t.value) for t in at.text)
    assert expected.summary in texts and expected.regressions == 3
    one = at.dataframe[1].value                     # the newest run's items
    assert len(one) == 8 and set(one["status"]) == {"ok"} and "exact" in one.columns
    scorer_table = at.dataframe[2].value
    assert scorer_table.set_index("scorer").loc["exact", "mean_diff"] == -3 / 8
    items = at.dataframe[3].value
    assert set(items["flag"]) == {"regression"} and HOSTILE in set(items["output_new"])
    assert items["source"].isna().all()  # a file test set: no production span to link
    assert "3 answers changed between the last two runs" in texts
    assert at.get("vega_lite_chart")
    rendered = "\n".join(str(m.value) for m in at.markdown)
    assert "example.com" not in rendered
    at.text_input(key="exp_live").input("qa").run()
    assert not at.exception
    assert "No production request matches" in "\n".join(str(t.value) for t in at.text)
