"""The one span filter (``store.span_filter``): its SQL on a real DuckDB file for each field,
its JSON round trip, sampling frames stored before it existed, and a property: the SQL
selects exactly the spans a plain Python reading of the filter selects, in DuckDB's dialect
and in a second dialect written here."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from review_support import opts

from goldenloop import errors, golden, metrics, sampling
from goldenloop.ingest.loader import import_table
from goldenloop.schema import open_store
from goldenloop.store.span_filter import DUCKDB, Dialect, SpanFilter, where

T0 = datetime(2026, 3, 1)
N = 72
APPS = ("a1", "a2")
ENVS = ("prod", "staging")
MODELS = ("m1", "m2", "m3")
PROMPTS = ("p1", "p2")
KINDS = ("llm", "tool", "retrieval")
STATUSES = ("ok", "error", "timeout", "empty")
TAGS = ("vip", "beta", "eu")
SOURCES = ("test", "judge", "experiment", "canary")
INTERNAL = {"judge", "experiment", "canary"}  # written out: the test's own reading


def _pick(values, i, k, none_every=0):
    """A deterministic, well-mixed choice (every combination occurs), NULL every so often."""
    if none_every and i % none_every == none_every - 1:
        return None
    return values[(i * k + i // 7) % len(values)]


@pytest.fixture(scope="module")
def spans_store(tmp_path_factory):
    """72 spans over every value of every filtered column (NULLs included), an hour apart."""
    s = open_store(tmp_path_factory.mktemp("span_filter") / "goldenloop.duckdb")
    t = [T0 + timedelta(hours=i) for i in range(N)]
    table = pa.table({
        "trace_id": [f"t{i}" for i in range(N)], "span_id": [f"s{i}" for i in range(N)],
        "app": [_pick(APPS, i, 1, 11) for i in range(N)],
        "environment": [_pick(ENVS, i, 3, 9) for i in range(N)],
        "model_version": [_pick(MODELS, i, 5, 13) for i in range(N)],
        "prompt_version": [_pick(PROMPTS, i, 7, 8) for i in range(N)],
        "kind": [_pick(KINDS, i, 2) for i in range(N)],
        "status": [_pick(STATUSES, i, 3) for i in range(N)],
        "start_time": pa.array(t, pa.timestamp("us")),
        "end_time": pa.array([x + timedelta(seconds=2) for x in t], pa.timestamp("us")),
        "last_user_message": [f"q{i}" for i in range(N)], "output": [f"a{i}" for i in range(N)],
    })
    import_table(s, table, source="test", origin="test", label="<span filter>")

    def label(cur):  # tags and sources the import does not set: any subset, and NULL
        for i in range(N):
            tags = None if i % 10 == 9 else [x for b, x in enumerate(TAGS) if (i >> b) & 1]
            source = SOURCES[i % 4] if i % 3 == 0 else (None if i % 17 == 0 else "test")
            cur.execute("UPDATE spans SET tags = $t, source = $s WHERE trace_id = $id",
                        {"t": tags, "s": source, "id": f"t{i}"})

    s.write(label)
    yield s
    s.close()


@pytest.fixture(scope="module")
def rows(spans_store) -> list[dict]:
    cur = spans_store.cursor()
    cur.execute("SELECT span_key, app, environment, model_version, prompt_version, kind, "
                "status, tags, source, start_time FROM spans")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def selected(store, f: SpanFilter, dialect: Dialect = DUCKDB, **kw) -> set[int]:
    sql, params = where(f, "s", dialect=dialect, **kw)
    return {k for (k,) in store.rows(f"SELECT s.span_key FROM spans s WHERE {sql}", params)}


def reads(f: SpanFilter, r: dict) -> bool:
    """The filter read plainly, one span at a time."""
    if not f.include_internal and (r["source"] or "") in INTERNAL:
        return False
    if f.start is not None and not r["start_time"] >= f.start:
        return False
    if f.end is not None and not r["start_time"] < f.end:
        return False
    for part, column in (("apps", "app"), ("environments", "environment"),
                         ("model_versions", "model_version"), ("prompt_versions", "prompt_version"),
                         ("kinds", "kind"), ("statuses", "status")):
        chosen = getattr(f, part)
        if chosen and r[column] not in chosen:
            return False
    return not f.tags or bool(set(r["tags"] or ()) & set(f.tags))


# One case per field: the filter, and the plain rule it stands for.
FIELD_CASES = {
    "start": (SpanFilter(start=T0 + timedelta(hours=30), include_internal=True),
              lambda r: r["start_time"] >= T0 + timedelta(hours=30)),
    "end": (SpanFilter(end=T0 + timedelta(hours=30), include_internal=True),
            lambda r: r["start_time"] < T0 + timedelta(hours=30)),
    "apps": (SpanFilter(apps=("a2",), include_internal=True), lambda r: r["app"] == "a2"),
    "environments": (SpanFilter(environments=("prod", "staging"), include_internal=True),
                     lambda r: r["environment"] is not None),
    "model_versions": (SpanFilter(model_versions=("m1", "m3"), include_internal=True),
                       lambda r: r["model_version"] in ("m1", "m3")),
    "prompt_versions": (SpanFilter(prompt_versions="p2", include_internal=True),
                        lambda r: r["prompt_version"] == "p2"),
    "kinds": (SpanFilter(kinds=("tool", "retrieval"), include_internal=True),
              lambda r: r["kind"] != "llm"),
    "statuses": (SpanFilter(statuses=("timeout",), include_internal=True),
                 lambda r: r["status"] == "timeout"),
    "tags": (SpanFilter(tags=("vip", "eu"), include_internal=True),
             lambda r: r["tags"] is not None and ("vip" in r["tags"] or "eu" in r["tags"])),
    "include_internal": (SpanFilter(),
                         lambda r: r["source"] not in ("judge", "experiment", "canary")),
}


@pytest.mark.parametrize("field", sorted(FIELD_CASES))
def test_each_field_selects_its_spans(spans_store, rows, field):
    f, rule = FIELD_CASES[field]
    want = {r["span_key"] for r in rows if rule(r)}
    assert 0 < len(want) < N  # the case separates spans
    assert selected(spans_store, f) == want


def test_time_range_is_start_inclusive_end_exclusive(spans_store, rows):
    at = T0 + timedelta(hours=10)  # a span starts exactly here
    f = SpanFilter(start=at, end=at + timedelta(hours=3), include_internal=True)
    assert selected(spans_store, f) == {r["span_key"] for r in rows
                                        if at <= r["start_time"] < at + timedelta(hours=3)}
    assert len(selected(spans_store, f)) == 3
    whole = selected(spans_store, f, with_time=False)  # a range applied elsewhere
    assert whole == {r["span_key"] for r in rows}


def test_parts_combine_with_and_and_prefixes_keep_two_filters_apart(spans_store, rows):
    a = SpanFilter(apps=("a1",), kinds=("llm",), statuses=("ok", "error"))
    b = SpanFilter(apps=("a2",), tags=("beta",), include_internal=True)
    sa, pa_ = where(a, "s", prefix="a_")
    sb, pb = where(b, "s", prefix="b_")
    got = {k for (k,) in spans_store.rows(
        f"SELECT s.span_key FROM spans s WHERE ({sa}) OR ({sb})", {**pa_, **pb})}
    assert got == {r["span_key"] for r in rows if reads(a, r) or reads(b, r)}
    assert set(pa_) == {"a_apps", "a_kinds", "a_statuses"}


def test_one_filter_error_everywhere():
    assert metrics.FilterError is golden.FilterError is errors.FilterError
    with pytest.raises(errors.FilterError, match="time range is empty"):
        SpanFilter(start=T0, end=T0)
    with pytest.raises(errors.FilterError, match="judges must be one of"):
        SpanFilter(judges="some")
    with pytest.raises(errors.FilterError, match="unknown filter fields: colour"):
        SpanFilter.from_dict({"colour": ["red"]})
    with pytest.raises(errors.FilterError, match="start: 'yesterday' is not an ISO"):
        SpanFilter.from_dict({"start": "yesterday"})
    with pytest.raises(errors.FilterError, match="time range is empty"):
        golden.GoldenFilter(start=T0, end=T0)  # the golden set's span part


def test_golden_filter_span_part_is_the_span_filter():
    g = golden.GoldenFilter(apps=("b", "a"), tags=("vip",), start=T0, model_versions=("m1",))
    assert g.spans == SpanFilter(apps=("a", "b"), tags=("vip",), start=T0,
                                 model_versions=("m1",), include_internal=True)
    # The version's stored form stays flat, as versions always stored it.
    assert golden.GoldenFilter.from_dict(json.loads(json.dumps(g.to_dict()))) == g


def test_metrics_where_clause_is_the_builder():
    f = SpanFilter(start=T0, apps=("a1", "a2"), tags=("vip",))
    assert metrics.where_clause(f) == where(f, "s")


times = st.one_of(st.none(), st.integers(-2, N + 2).map(lambda h: T0 + timedelta(hours=h)))


def names(values):  # a value no span has, too: a part may select nothing
    return st.lists(st.sampled_from((*values, "zz")), max_size=3)


@st.composite
def span_filters(draw) -> SpanFilter:
    start, end = draw(times), draw(times)
    if start is not None and end is not None and end <= start:
        start, end = end - timedelta(hours=1), start + timedelta(hours=1)
    return SpanFilter(start=start, end=end, apps=draw(names(APPS)), environments=draw(names(ENVS)),
                      model_versions=draw(names(MODELS)), prompt_versions=draw(names(PROMPTS)),
                      kinds=draw(names(KINDS)), statuses=draw(names(STATUSES)),
                      tags=draw(names(TAGS)), include_internal=draw(st.booleans()),
                      judges=draw(st.sampled_from(("fit", "any", "none"))),
                      judge_versions=draw(st.lists(st.text(max_size=5), max_size=2)))


# A second dialect, spelled differently from DuckDB's builder (times bound as text, lists met
# by unnest and list_intersect, goldenloop's own sources bound as a parameter): the builder's
# conditions must select the same spans through it.
PLAIN = Dialect(
    name="plain",
    placeholder=lambda name: f"${name}",
    time_value=lambda t: t.isoformat(),
    time=lambda p: f"CAST({p} AS TIMESTAMP)",
    one_of=lambda column, p: f"{column} IN (SELECT unnest({p}))",
    any_of=lambda column, p: f"len(list_intersect(coalesce({column}, []), {p})) > 0",
    production=lambda alias: (f"NOT list_contains($internal, coalesce({alias}.source, ''))",
                              {"internal": sorted(INTERNAL)}),
    true="1 = 1",
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(f=span_filters())
@pytest.mark.slow
def test_sql_selects_exactly_what_the_filter_reads(spans_store, rows, f):
    want = {r["span_key"] for r in rows if reads(f, r)}
    assert selected(spans_store, f) == want
    assert selected(spans_store, f, PLAIN) == want


@settings(max_examples=150, deadline=None)
@given(f=span_filters())
@pytest.mark.slow
def test_json_round_trip(f):
    assert SpanFilter.from_dict(json.loads(json.dumps(f.to_dict()))) == f
    stored = json.loads(json.dumps(sampling.frame_to_dict(f)))
    assert sampling.frame_from_dict(stored) == f  # kinds kept even when every kind is taken
    assert hash(SpanFilter.from_dict(f.to_dict())) == hash(f)  # a cache key


def test_frames_default_to_llm_calls():
    assert sampling.make_frame().kinds == ("llm",)
    assert sampling.make_frame(kinds=()).kinds == ()
    assert SpanFilter().kinds == ()  # the views' filter takes every kind
    # A job's partial frame (CLI, Judges page) means LLM calls, as before.
    assert sampling.frame_from_dict({"apps": ["a1"], "start": None}).kinds == ("llm",)
    # A chart's filter becomes a frame.
    chart = SpanFilter(start=T0, apps=("a1",), tags=("vip",))
    assert sampling.frame_from_dict(chart.to_dict()) == \
        SpanFilter(start=T0, apps=("a1",), tags=("vip",), kinds=("llm",))


# Frames as queues stored them before the span filter was one type: every field of the old
# frame, nulls for unset times; and, older still, fewer fields (no kinds: LLM calls).
OLD_FRAMES = [
    ({"start": (T0 + timedelta(hours=20)).isoformat(), "end": None, "apps": ["a1"],
      "environments": [], "model_versions": [], "prompt_versions": [], "kinds": ["llm"],
      "statuses": ["ok"], "tags": [], "include_internal": False, "judges": "fit"},
     SpanFilter(start=T0 + timedelta(hours=20), apps=("a1",), kinds=("llm",),
                statuses=("ok",))),
    ({"start": None, "end": (T0 + timedelta(hours=40)).isoformat(), "apps": [],
      "environments": [], "model_versions": ["m2"], "prompt_versions": [], "kinds": [],
      "statuses": [], "tags": ["vip"], "include_internal": True, "judges": "any"},
     SpanFilter(end=T0 + timedelta(hours=40), model_versions=("m2",), tags=("vip",),
                include_internal=True, judges="any")),
    ({"start": None, "end": None, "apps": ["a2"], "model_versions": []},
     SpanFilter(apps=("a2",), kinds=("llm",))),
]


@pytest.mark.parametrize("old,want", OLD_FRAMES, ids=["every-field", "all-kinds", "fewer-fields"])
def test_queues_stored_with_old_frames_keep_loading(store, old, want):
    from review_support import synthetic_spans

    synthetic_spans(store, 5)
    q = sampling.create_hand_queue(store, opts(), span_keys=[1, 2])
    store.write(lambda cur: cur.execute("UPDATE queues SET frame_filter = $f WHERE queue_id = $q",
                                        {"f": json.dumps(old), "q": q.queue_id}))
    assert sampling.queue_frame(store, q.queue_id) == want


def test_a_new_frame_is_stored_as_the_filter_json(store):
    from review_support import synthetic_spans

    synthetic_spans(store, 12)
    f = sampling.make_frame(apps=("a1",), kinds=())
    q = sampling.create_hand_queue(store, opts(), frame=f)
    raw = json.loads(store.scalar("SELECT frame_filter FROM queues WHERE queue_id = ?",
                                  [q.queue_id]))
    assert raw == {"apps": ["a1"], "kinds": []}  # unset parts left out; kinds explicit
    assert sampling.queue_frame(store, q.queue_id) == f
