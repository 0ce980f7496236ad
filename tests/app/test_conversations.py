"""Conversation analytics (``goldenloop.metrics.conversations``) against an independent pandas
computation from the raw rows: on a small hand-built store with known sessions, idle gaps,
failures, feedback and signals, and on the demo history."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from app_support import app_page
from metrics_support import load_rows
from review_support import DEMO_END, demo_store, demo_template  # noqa: F401 (fixtures)

from goldenloop.metrics import SpanFilter
from goldenloop.metrics import conversations as C
from goldenloop.store import Store
from goldenloop.store.feedback import insert_feedback

T0 = datetime(2026, 2, 2)


def build(store: Store, seed: int = 5) -> None:
    """About 60 conversations: session ids, user-only ones and a few with neither; turns of one
    or two LLM calls under an agent span, gaps that sometimes exceed half an hour, every
    status, thumbs and ratings, and signals on most first calls."""
    rng = np.random.default_rng(seed)
    rows, feedback, signals = [], [], []
    for c in range(60):
        kind = rng.choice(["session", "user", "none"], p=[0.7, 0.25, 0.05])
        t = T0 + timedelta(minutes=float(rng.uniform(0, 3 * 1440)))
        for turn in range(int(rng.integers(1, 9))):
            t += timedelta(minutes=float(rng.choice([0.5, 2, 10, 45, 120], p=[.3, .3, .2, .1, .1])))
            trace = f"c{c}t{turn}"
            ids = {"session_id": f"s{c}" if kind == "session" else None,
                   "user_id": f"u{c}" if kind != "none" else None}
            rows.append({"trace_id": trace, "span_id": "root", "kind": "agent", "start_time": t,
                         "end_time": t + timedelta(seconds=5), "status": "ok", **ids})
            calls = int(rng.integers(1, 3))
            for k in range(calls):
                start = t + timedelta(seconds=1 + 2 * k)
                rows.append({
                    "trace_id": trace, "span_id": f"l{k}", "parent_span_id": "root", "kind": "llm",
                    "start_time": start, "end_time": start + timedelta(seconds=float(rng.uniform(0.5, 3))),
                    "status": rng.choice(["ok", "error", "timeout", "empty"], p=[.75, .1, .1, .05]),
                    "model_version": rng.choice(["m1", "m2"]), "last_user_message": f"q{c}.{turn}",
                    "output": "a", **ids})
                if k == 0 and rng.random() < 0.9:
                    signals.append((trace, "l0", float(rng.random()), float(rng.uniform(-1, 1))))
            if rng.random() < 0.4:
                fb_kind = rng.choice(["thumbs", "rating"])
                value = float(rng.integers(0, 2) if fb_kind == "thumbs" else rng.integers(1, 6))
                feedback.append({"trace_id": trace, "span_id": f"l{calls - 1}", "kind": fb_kind,
                                 "value": value})
    load_rows(store, rows)

    def annotate(cur) -> None:
        insert_feedback(cur, pa.Table.from_pylist(feedback))
        for trace, span, off, sent in signals:
            cur.execute("""INSERT INTO signals (span_key, user_offensive, user_sentiment)
                           SELECT span_key, $o, $s FROM spans WHERE trace_id = $t AND span_id = $p""",
                        {"o": off, "s": sent, "t": trace, "p": span})
    store.write(annotate)


def expected(store: Store, start: datetime, end: datetime, idle_min: int) -> dict:
    """The figures from raw rows, in pandas, without the library's SQL."""
    spans = store.df("SELECT * FROM spans")
    sig = store.df("SELECT span_key, user_offensive, user_sentiment FROM signals")
    fb = store.df("SELECT trace_id, kind, value FROM feedback")
    llm = spans[(spans["kind"] == "llm") & (spans["start_time"] >= start) & (spans["start_time"] < end)]
    llm = llm.sort_values(["start_time", "span_key"])
    turns = llm.groupby("trace_id").agg(
        t0=("start_time", "min"), t1=("end_time", "max"), status=("status", "last"),
        version=("model_version", "last"), first_key=("span_key", "first"),
        session_id=("session_id", "min"), user_id=("user_id", "min")).reset_index()
    turns["conv"] = np.where(turns["session_id"].notna(), "s:" + turns["session_id"].astype(str),
                             np.where(turns["user_id"].notna(), "u:" + turns["user_id"].astype(str),
                                      "t:" + turns["trace_id"]))
    turns = turns.merge(sig, left_on="first_key", right_on="span_key", how="left")
    neg = fb.assign(neg=((fb["kind"] == "thumbs") & (fb["value"] <= 0))
                    | ((fb["kind"] == "rating") & (fb["value"] <= 2)),
                    pos=((fb["kind"] == "thumbs") & (fb["value"] >= 1))
                    | ((fb["kind"] == "rating") & (fb["value"] >= 4)))
    flags = neg.groupby("trace_id")[["neg", "pos"]].any()
    turns = turns.merge(flags, left_on="trace_id", right_index=True, how="left")
    turns[["neg", "pos"]] = turns[["neg", "pos"]].fillna(False).astype(bool)
    turns = turns.sort_values(["conv", "t0", "trace_id"])
    gap = turns["t0"] - turns.groupby("conv")["t1"].shift()
    new = gap.isna() | (gap > pd.Timedelta(minutes=idle_min))
    turns["session"] = turns["conv"] + "#" + new.groupby(turns["conv"]).cumsum().astype(str)
    turns["depth"] = turns.groupby("session").cumcount() + 1
    sessions = turns.groupby("session").agg(turns=("trace_id", "size"), status=("status", "last"),
                                            version=("version", "last"), neg=("neg", "last"),
                                            pos=("pos", "last"))
    resolved = sessions[sessions["pos"] & ~sessions["neg"]]
    scored = turns[turns["user_offensive"].notna()]
    return {
        "sessions": len(sessions), "turns": len(turns),
        "per_version": sessions.groupby("version").size().to_dict(),
        "hist": sessions.groupby("turns").size().to_dict(),
        "errored": int((sessions["status"] == "error").sum()),
        "unanswered": int(sessions["status"].isin(["timeout", "empty"]).sum()),
        "negative": int(sessions["neg"].sum()),
        "any": int(((sessions["status"] != "ok") | sessions["neg"]).sum()),
        "resolved": len(resolved), "resolved_median": float(resolved["turns"].median()),
        "mean_turns": float(sessions["turns"].mean()),
        "median_turns": float(sessions["turns"].median()),
        "depth_turns": turns.groupby(turns["depth"].clip(upper=C.MAX_DEPTH)).size().to_dict(),
        "offensive": (scored["user_offensive"] >= 0.5).groupby(
            scored["depth"].clip(upper=C.MAX_DEPTH)).mean().to_dict(),
        "sentiment": scored.groupby(scored["depth"].clip(upper=C.MAX_DEPTH))["user_sentiment"]
        .mean().to_dict(),
    }


def check(stats: C.ConversationStats, want: dict) -> None:
    assert stats.total_sessions == want["sessions"]
    assert stats.total_turns == want["turns"]
    hist = stats.turns_per_session().set_index("turns")["sessions"].to_dict()
    capped: dict[int, int] = {}
    for k, v in want["hist"].items():
        capped[min(k, C.MAX_TURNS)] = capped.get(min(k, C.MAX_TURNS), 0) + v
    assert hist == capped
    per_version = stats.turns_per_session(by_version=True).groupby("model_version")["sessions"].sum()
    assert per_version.to_dict() == want["per_version"]
    drop = stats.dropoff().iloc[0]
    assert drop["model_version"] == "all versions"
    assert (drop["errored"], drop["unanswered"], drop["negative_feedback"], drop["any"]) == \
        (want["errored"], want["unanswered"], want["negative"], want["any"])
    summary = stats.turn_summary().iloc[0]
    assert summary["mean_turns"] == pytest.approx(want["mean_turns"])
    assert summary["median_turns"] == want["median_turns"]
    resolved = stats.resolved_summary()
    assert resolved["resolved"] == want["resolved"]
    if want["resolved"]:
        assert resolved["median_turns"] == want["resolved_median"]
        assert stats.resolution()["resolved"].sum() == want["resolved"]
    depth = stats.by_depth().set_index("depth")
    assert depth["turns"].to_dict() == want["depth_turns"]
    assert depth["offensive_share"].dropna().to_dict() == pytest.approx(want["offensive"])
    assert depth["sentiment"].dropna().to_dict() == pytest.approx(want["sentiment"])


@pytest.mark.parametrize("idle", [30, 5, 600])
def test_hand_built_sessions_match_pandas(store: Store, idle: int) -> None:
    build(store)
    f = SpanFilter(start=T0, end=T0 + timedelta(days=5))
    stats = C.conversation_stats(store, f, idle)
    want = expected(store, f.start, f.end, idle)
    assert want["sessions"] > 40 and want["resolved"] > 0 and want["any"] > 0  # a real test
    check(stats, want)


def test_a_longer_timeout_joins_sessions(store: Store) -> None:
    build(store)
    f = SpanFilter(start=T0, end=T0 + timedelta(days=5))
    counts = [C.conversation_stats(store, f, m).total_sessions for m in (5, 30, 600)]
    assert counts[0] > counts[1] > counts[2]
    assert len({C.conversation_stats(store, f, m).total_turns for m in (5, 30, 600)}) == 1


def test_filters_narrow_the_turns(store: Store) -> None:
    build(store)
    f = SpanFilter(start=T0 + timedelta(days=1), end=T0 + timedelta(days=2), model_versions=("m1",))
    stats = C.conversation_stats(store, f)
    spans = store.df("SELECT trace_id, model_version, start_time FROM spans WHERE kind = 'llm'")
    inside = spans[(spans["start_time"] >= f.start) & (spans["start_time"] < f.end)
                   & (spans["model_version"] == "m1")]
    assert stats.total_turns == inside["trace_id"].nunique()
    with pytest.raises(C.FilterError, match="idle timeout"):
        C.conversation_stats(store, f, 0)


def test_demo_history_matches_pandas_and_shows_drop_off(demo_store: Store) -> None:  # noqa: F811
    f = SpanFilter(start=DEMO_END - timedelta(days=30), end=DEMO_END + timedelta(hours=1))
    demo_store.write(lambda cur: cur.execute(
        """INSERT INTO signals (span_key, user_offensive, user_sentiment)
           SELECT span_key, (span_key % 7) / 7.0, ((span_key % 11) - 5) / 5.0 FROM spans
           WHERE kind = 'llm'"""))
    stats = C.conversation_stats(demo_store, f)
    want = expected(demo_store, f.start, f.end, C.IDLE_MINUTES)
    check(stats, want)
    drop = stats.dropoff()
    assert drop["any"].iloc[0] > 0 and len(drop) >= 3  # all versions and at least two versions
    assert len(stats.by_depth()) >= 4  # the demo's sessions run several turns deep


# -- the page, in-process (AppTest) over the demo history ----------------------------------------
def conversations_page(db) -> object:
    return app_page("conversations", timeout=90)


def test_page_shows_drop_off_and_turn_depth(demo_store: Store, app_db) -> None:  # noqa: F811
    assert demo_store.path == app_db  # both name the test's database file
    demo_store.write(lambda cur: cur.execute(
        """INSERT INTO signals (span_key, user_offensive, user_sentiment)
           SELECT span_key, (span_key % 7) / 7.0, ((span_key % 11) - 5) / 5.0 FROM spans
           WHERE kind = 'llm'"""))
    at = conversations_page(app_db)
    tiles = {m.label: m.value for m in at.metric}
    f = SpanFilter(start=DEMO_END - timedelta(days=30), end=DEMO_END + timedelta(hours=1))
    stats = C.conversation_stats(demo_store, f)
    assert tiles["Sessions"] == f"{stats.total_sessions:,}"
    assert tiles["Drop-off"] == f"{stats.dropoff()['any_share'].iloc[0]:.1%}"
    titles = [json.loads(c.proto.spec)["title"]["text"] for c in at.get("arrow_vega_lite_chart")] \
        or [json.loads(c.proto.spec)["title"]["text"] for c in at.get("vega_lite_chart")]
    assert any(t.startswith("Drop-off") for t in titles)
    assert "User sentiment by turn depth, with a 95% CI" in titles
    assert "Offensive user messages by turn depth, with a 95% CI" in titles
    dropped = next(d.value for d in at.dataframe if "last_turn_at" in d.value.columns)
    assert len(dropped) == min(100, stats.dropoff()["any"].iloc[0])
    assert dropped["link"].str.startswith("trace?trace=").all()
    at.get("button_group")[0].set_value("errored").run()  # the reason picker
    dropped = next(d.value for d in at.dataframe if "last_turn_at" in d.value.columns)
    assert len(dropped) == min(100, stats.dropoff()["errored"].iloc[0])
    assert set(dropped["status"]) == {"error"}
    at.sidebar.number_input(key="idle").set_value(5).run()
    assert not at.exception
    fewer = {m.label: m.value for m in at.metric}["Sessions"]
    assert fewer == f"{C.conversation_stats(demo_store, f, 5).total_sessions:,}" != tiles["Sessions"]


def test_page_on_an_empty_store_says_what_to_run(app_db) -> None:
    at = conversations_page(app_db)
    assert "No LLM requests yet" in at.info[0].value


def test_wilson_interval_matches_published_values() -> None:
    # Newcombe (1998), table I: 0 of 10 gives 0 to 0.2775; 5 of 10 gives 0.2366 to 0.7634.
    low, high = C.wilson(pd.Series([0.0, 0.5]), pd.Series([10.0, 10.0]))
    assert low.tolist() == pytest.approx([0.0, 0.2366], abs=1e-4)
    assert high.tolist() == pytest.approx([0.2775, 0.7634], abs=1e-4)


@pytest.mark.parametrize("reason", ["unanswered", "errored", "negative_feedback", "any"])
def test_dropped_sessions_are_the_ones_counted(store: Store, reason: str) -> None:
    build(store)
    f = SpanFilter(start=T0, end=T0 + timedelta(days=5))
    stats = C.conversation_stats(store, f)
    drop = stats.dropoff().set_index("model_version")
    for version in ("m1", "m2"):
        listed = C.dropped_sessions(store, f, reason=reason, model_version=version, limit=1000)
        assert len(listed) == drop.loc[version, reason] > 0
        assert set(listed["model_version"]) == {version}
        assert listed["last_turn_at"].is_monotonic_decreasing
    listed = C.dropped_sessions(store, f, reason=reason, limit=1000)
    assert len(listed) == drop.loc["all versions", reason]
    if reason == "errored":
        assert set(listed["status"]) == {"error"}
    # Each listed span is the last LLM call of its session's last turn (pandas, from raw rows).
    spans = store.df("SELECT trace_id, span_id, start_time FROM spans WHERE kind = 'llm'")
    last = spans.sort_values("start_time").groupby("trace_id")["span_id"].last()
    assert (listed["span_id"].to_numpy() == last.loc[listed["trace_id"]].to_numpy()).all()
    with pytest.raises(C.FilterError, match="unknown drop-off reason"):
        C.dropped_sessions(store, f, reason="bored")
