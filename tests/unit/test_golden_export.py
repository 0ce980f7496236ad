"""Golden exports: every format is read back and compared with the stored version; CSV cells
that a spreadsheet would run are neutralised; the OpenAI files follow their rules; nothing is
written outside the chosen folder."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from goldenloop import golden as G
from goldenloop.golden import openai_format
from goldenloop.golden.export import ExportPathError
from goldenloop.ingest.loader import import_table
from goldenloop.review import sql as review_sql

T0 = datetime(2026, 2, 1)
SYSTEM = "You are a careful assistant."
TRICKY = ["=HYPERLINK(\"http://x\")", "+1 555", "-2 apples", "@SUM(A1)", "\tTAB", "plain"]


def _spans(store, n: int) -> list[int]:
    t = [T0 + timedelta(minutes=i) for i in range(n)]
    msgs = []
    for i in range(n):
        conv = [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"first question {i}"}]
        if i % 2:  # a multi-turn conversation: earlier turns go into the file too
            conv += [{"role": "assistant", "content": f"earlier answer {i}"},
                     {"role": "user", "content": f"follow-up {i}"}]
        msgs.append(json.dumps(conv))
    if n > 3:  # one span whose stored conversation breaks the chat format's rules
        msgs[3] = json.dumps([{"role": "robot", "content": "beep"}])
    import_table(store, pa.table({
        "trace_id": [f"t{i}" for i in range(n)], "span_id": ["s"] * n, "kind": ["llm"] * n,
        "app": ["bot"] * n, "model_version": ["m1"] * n, "prompt_version": ["p1"] * n,
        "start_time": pa.array(t, pa.timestamp("us")),
        "end_time": pa.array([x + timedelta(seconds=1) for x in t], pa.timestamp("us")),
        "status": ["ok"] * n, "system_prompt": [SYSTEM] * n, "messages": msgs,
        "last_user_message": [f"q{i}" for i in range(n)],
        "output": [TRICKY[i % len(TRICKY)] + f" answer {i}" for i in range(n)],
        "tags": [["t1"]] * n,
    }), source="test", origin="test")
    return [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]


@pytest.fixture
def version(store):
    keys = _spans(store, 14)

    def write(cur):
        rows = [{"target_type": "span", "target_id": str(k), "span_key": k,
                 "criterion": "correctness", "value_number": 5.0 if i % 4 else 2.0,
                 "source": "human", "author_kind": "reviewer", "author_id": "ana",
                 "rubric_name": "default", "rubric_version": "v1", "created_at": T0}
                for i, k in enumerate(keys)]
        review_sql.insert_human_grades(cur, rows)
        review_sql.insert_correction(cur, {"target_type": "span", "target_id": str(keys[0]),
                                           "span_key": keys[0]}, "=1+1 is two", "ben", None, T0)

    store.write(write)
    return G.build(store, "shop-bot", G.GoldenFilter(correct_at=4), "lead").version


def test_every_format_reads_back_as_stored(store, version, tmp_path):
    r = G.export(store, "shop-bot", tmp_path / "exports", "lead")
    assert r.folder == (tmp_path / "exports" / "shop-bot" / "v1").resolve()
    stored = G.rows(store, version).set_index("row_key")
    n = len(stored)
    assert n == version.rows > 10

    lines = [json.loads(x) for x in r.files["jsonl"].read_text().splitlines()]
    assert [x["row_key"] for x in lines] == list(stored.index)
    for x in lines:
        s = stored.loc[x["row_key"]]
        assert x["expected_output"] == s["expected_output"] and x["row_hash"] == s["row_hash"]
        assert x["reviewers"] == list(s["reviewers"])
        assert x["human_grades"] == json.loads(s["human_grades"])   # nested, not a string

    table = pq.read_table(r.files["parquet"]).to_pandas().set_index("row_key")
    assert list(table.index) == list(stored.index)
    assert (table["expected_output"] == stored["expected_output"]).all()
    assert (table["row_hash"] == stored["row_hash"]).all()

    hf = datasets.load_from_disk(str(r.files["hf"]))
    assert hf.num_rows == n and hf["row_key"] == list(stored.index)
    assert hf["expected_output"] == stored["expected_output"].tolist()

    with open(r.files["csv"], newline="", encoding="utf-8") as f:
        cells = list(csv.DictReader(f))
    assert [c["row_key"] for c in cells] == list(stored.index)
    for c in cells:
        want = stored.loc[c["row_key"], "expected_output"]
        risky = want[0] in "=+-@\t\r"
        assert c["expected_output"] == ("'" + want if risky else want)
    assert any(c["expected_output"].startswith("'=") for c in cells)   # the correction
    assert any(c["output"].startswith("'@") for c in cells)
    every_cell = [v for c in cells for v in c.values() if v]
    assert not [v for v in every_cell if v[0] in "=+@\t\r"]
    numeric = {"span_key", "label_number", "n_reviewers", "human_agreement", "inclusion_prob",
               "queue_id", "correction_id"}
    assert not [v for c in cells for k, v in c.items() if v.startswith("-") and k not in numeric]


def test_openai_files_follow_their_rules(store, version, tmp_path):
    r = G.export(store, "shop-bot", tmp_path, "lead", formats=["openai_chat", "openai_evals"])
    stored = G.rows(store, version).set_index("row_key")
    bad = {p.row_key for p in r.problems}
    assert len(bad) == 1 and all(p.field == "messages[0].role" for p in r.problems)
    assert r.written == {"openai_chat": len(stored) - 1, "openai_evals": len(stored) - 1}
    kept = [k for k in stored.index if k not in bad]
    chat = [json.loads(x) for x in r.files["openai_chat"].read_text().splitlines()]
    for key, ex in zip(kept, chat, strict=True):
        openai_format.validate_chat(ex)          # raises on a broken example
        assert set(ex) == {"messages"}
        msgs = ex["messages"]
        assert msgs[0] == {"role": "system", "content": SYSTEM}
        assert msgs[-1] == {"role": "assistant", "content": stored.loc[key, "expected_output"],
                            "weight": 1}
        assert all(m["weight"] == 0 for m in msgs[:-1] if m["role"] == "assistant")
        assert msgs[-2]["role"] == "user"
        conv = json.loads(stored.loc[key, "messages"])
        assert msgs[:-1] == [{**m, "weight": 0} if m["role"] == "assistant" else m
                             for m in conv]
    assert any(len(ex["messages"]) == 5 for ex in chat)   # earlier turns kept
    evals = [json.loads(x) for x in r.files["openai_evals"].read_text().splitlines()]
    for key, ex in zip(kept, evals, strict=True):
        assert ex["ideal"] == stored.loc[key, "expected_output"]
        assert ex["input"] == json.loads(stored.loc[key, "messages"])
        assert ex["input"][-1]["role"] == "user"
    problems = [json.loads(x) for x in (r.folder / "problems.jsonl").read_text().splitlines()]
    assert {p["row_key"] for p in problems} == bad


@pytest.mark.parametrize("example, field", [
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "user", "content": "hi"}]}, "messages"),          # no assistant
    ({"messages": [{"role": "user", "content": " "},
                   {"role": "assistant", "content": "x"}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "hi", "colour": "red"},
                   {"role": "assistant", "content": "x"}]}, "messages[0]"),
    ({"messages": [{"role": "user", "content": "hi", "weight": 1},
                   {"role": "assistant", "content": "x"}]}, "messages[0].weight"),
    ({"messages": [{"content": "hi"}, {"role": "assistant", "content": "x"}]},
     "messages[0].role"),
    ({"messages": [{"role": "user", "content": "x" * 300_000},
                   {"role": "assistant", "content": "x"}]}, "messages"),
])
def test_chat_validation_names_the_field(example, field):
    with pytest.raises(openai_format._Invalid) as err:
        openai_format.validate_chat(example)
    assert err.value.field == field


def test_a_valid_tool_call_conversation_passes():
    openai_format.validate_chat({"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "weight": 0,
         "tool_calls": [{"id": "c1", "type": "function",
                         "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny.", "weight": 1}]})


def test_the_card_says_what_the_version_holds(store, version, tmp_path):
    r = G.export(store, "shop-bot", tmp_path, "lead", formats=["jsonl"])
    text = r.card.read_text()
    assert r.card.name == "README.md" and r.card.parent == r.folder
    assert version.content_hash in text and "version 1" in text
    assert f"rows: {version.rows}" in text
    for reason, n in version.counts["left_out"].items():
        assert f"left out, {reason}: {n}" in text
    for label, n in version.label_balance.items():
        assert f"| `{label}` | {n} |" in text
    assert "source of truth: Human grades" in text and "`golden.jsonl`" in text


def test_exports_stay_inside_the_chosen_folder(store, version, tmp_path):
    out, outside = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    outside.mkdir()
    (out / "shop-bot").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ExportPathError):
        G.export(store, "shop-bot", out, "lead", formats=["jsonl"])
    assert not any(outside.iterdir())
    with pytest.raises(G.FilterError):
        G.export(store, "../shop-bot", out, "lead")
    # A file planted as a link to somewhere else is not written through.
    out2 = tmp_path / "out2"
    (out2 / "shop-bot" / "v1").mkdir(parents=True)
    target = outside / "victim.jsonl"
    target.write_text("keep me")
    (out2 / "shop-bot" / "v1" / "golden.jsonl").symlink_to(target)
    with pytest.raises(ExportPathError):
        G.export(store, "shop-bot", out2, "lead", formats=["jsonl"])
    assert target.read_text() == "keep me"


def test_unknown_format_and_missing_version(store, version, tmp_path):
    with pytest.raises(G.GoldenError, match="formats"):
        G.export(store, "shop-bot", tmp_path, "lead", formats=["xlsx"])
    with pytest.raises(G.DatasetNotFound, match="no version 9"):
        G.export(store, "shop-bot", tmp_path, "lead", version=9)


@pytest.mark.slow
def test_export_again_over_unchanged_grades_makes_no_new_version(store, version, tmp_path):
    f = version.filter
    first = G.publish(store, "shop-bot", f, "lead", tmp_path, formats=["parquet"])
    assert not first.build.created and first.build.version.version == 1 and first.diff is None
    key = int(G.rows(store, version)["span_key"].iloc[-1])
    gid = store.scalar("SELECT max(grade_id) FROM grades WHERE span_key = ?", [key])
    store.write(lambda cur: review_sql.insert_human_grades(cur, [{
        "target_type": "span", "target_id": str(key), "span_key": key,
        "criterion": "correctness", "value_number": 4.0, "source": "human",
        "author_kind": "reviewer", "author_id": "ana", "rubric_name": "default",
        "rubric_version": "v1", "created_at": T0 + timedelta(1), "supersedes": gid}]))
    second = G.publish(store, "shop-bot", f, "lead", tmp_path, formats=["parquet"])
    assert second.build.created and second.build.version.version == 2
    assert second.diff.changed["row_key"].tolist() == [f"span:{key}"]
    assert Path(tmp_path / "shop-bot" / "v1" / "golden.parquet").exists()
    assert pq.read_table(second.export.files["parquet"]).num_rows == version.rows
