"""Property-based fuzzing of OTLP JSON input (hypothesis), through both doors: the file import
and the receiver's path (the per-span check that decides the 200, the journal, the spool file,
the owner's import of it).

Requests are generated near the OTLP shape: real field names and GenAI/OpenInference attribute
keys, with any part replaced, now and then, by arbitrary JSON (numbers beyond 64 bits, NaN,
lone surrogates, lists where objects belong). Invariants:
- the import never raises, and rows read = imported + duplicates + conflicts + quarantined;
- importing the same file again adds nothing;
- every span the receiver acknowledges is kept in its journal, reaches the store from the
  spool file the converter writes, and none of them is quarantined there.

``GOLDENLOOP_FUZZ_EXAMPLES`` sets the number of generated requests per test (default 100 in the
full suite, 20 in a plain `pytest tests/unit`: tests/fuzz_support.py).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzz_support import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goldenloop.collector.decode import JSON, parse, span_records
from goldenloop.collector.journal import Converter, Journal
from goldenloop.ingest import ImportOptions, import_file
from goldenloop.schema import open_store
from goldenloop.store import Store

EXAMPLES = examples(100)
T0 = 1_736_932_400_000_000_000
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

KEYS = ["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "llm.token_count.prompt",
        "llm.cost.total", "gen_ai.response.time_to_first_chunk", "gen_ai.request.model",
        "gen_ai.response.model", "gen_ai.input.messages", "gen_ai.output.messages",
        "gen_ai.system_instructions", "input.value", "output.value", "metadata", "tag.tags",
        "gen_ai.response.finish_reasons", "openinference.span.kind", "gen_ai.operation.name",
        "session.id", "user.id", "llm.input_messages.0.message.role",
        "llm.input_messages.0.message.content", "llm.output_messages.0.message.content",
        "retrieval.documents.0.document.content", "llm.invocation_parameters",
        "gen_ai.tool.name", "gen_ai.tool.call.result", "exception.message", "error.type"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
    st.text(max_size=6), st.sampled_from(["\ud800", "caf\u00e9", "a\u202eb", "NaN", "1e30", ""]))
junk = st.recursive(scalars, lambda c: st.lists(c, max_size=3)
                    | st.dictionaries(st.text(max_size=4), c, max_size=3), max_leaves=6)


def usually(valid: st.SearchStrategy, other: st.SearchStrategy = junk) -> st.SearchStrategy:
    """``valid`` nine times in ten, ``other`` (arbitrary JSON) otherwise."""
    return st.integers(0, 9).flatmap(lambda i: other if i == 0 else valid)


def _kv(pairs: list) -> dict:
    return {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in pairs]}}


any_value = st.recursive(
    st.one_of(
        st.builds(lambda v: {"stringValue": v}, usually(st.text(max_size=30))),
        st.builds(lambda v: {"intValue": v}, usually(st.integers(-(2**40), 2**40).map(str))),
        st.builds(lambda v: {"doubleValue": v},
                  usually(st.floats()) | st.sampled_from(["NaN", "Infinity", "-1.5", "x"])),
        st.builds(lambda v: {"boolValue": v}, usually(st.booleans())),
        st.builds(lambda v: {"stringValue": json.dumps(v)}, junk),  # JSON inside a string
    ),
    lambda c: st.one_of(
        st.builds(lambda v: {"arrayValue": {"values": v}}, usually(st.lists(c, max_size=3))),
        st.builds(_kv, st.lists(st.tuples(st.text(max_size=4), c), max_size=3)),
    ),
    max_leaves=5)
attributes = usually(st.lists(
    st.builds(lambda k, v: {"key": k, "value": v}, st.sampled_from(KEYS) | st.text(max_size=5),
              usually(any_value)),
    max_size=6))
wide = st.integers(-(2**70), 2**70)


@st.composite
def span_times(draw: st.DrawFn) -> dict:
    """Start and end in Unix nanoseconds, the end mostly after the start; now and then a
    number far out of range, or anything at all."""
    start = draw(st.integers(T0 - 10**12, T0 + 10**12))
    out = {"startTimeUnixNano": draw(usually(st.just(str(start)), wide | junk))}
    if draw(st.booleans()):
        end = st.integers(0, 10**10).map(lambda d: str(start + d))
        out["endTimeUnixNano"] = draw(usually(end, wide | junk))
    return out


trace_ids = usually(st.sampled_from(["a" * 32, "b" * 32, "", "not-hex"]))
span_ids = usually(st.sampled_from(["1" * 16, "2" * 16, "3" * 16, "AAAAAAAAAAE="]))
status = usually(st.fixed_dictionaries({}, optional={
    "code": usually(st.sampled_from([0, 1, 2, "2", "STATUS_CODE_ERROR"])),
    "message": usually(st.text(max_size=10))}))
events = usually(st.lists(st.fixed_dictionaries(
    {"name": usually(st.sampled_from(["exception", "gen_ai.content.prompt", "x"]))},
    optional={"attributes": attributes}), max_size=2))
span = st.builds(
    lambda fields, times: {**fields, **times},
    st.fixed_dictionaries(
        {"traceId": trace_ids, "spanId": span_ids},
        optional={"parentSpanId": span_ids, "name": usually(st.text(max_size=8)),
                  "attributes": attributes, "status": status, "events": events}),
    span_times())
scope_spans = usually(st.lists(usually(st.fixed_dictionaries(
    {"spans": usually(st.lists(usually(span), max_size=4))},
    optional={"scope": usually(st.fixed_dictionaries({"name": st.text(max_size=5)}))})),
    max_size=2))
resource_spans = usually(st.lists(usually(st.fixed_dictionaries(
    {"scopeSpans": scope_spans},
    optional={"resource": usually(st.fixed_dictionaries({"attributes": attributes}))})),
    max_size=2))
requests = st.fixed_dictionaries({"resourceSpans": resource_spans})


@pytest.fixture(scope="module")
def fuzz_store() -> Iterator[tuple[Store, Path]]:
    """One real store for all examples (a fresh one per example would cost its migrations);
    each example checks its own import's counts, so earlier examples do not matter."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "fuzz.duckdb")
        yield store, Path(tmp)
        store.close()


def _counted(result) -> int:
    return (result.imported + result.duplicates + getattr(result, "conflicts", 0)
            + result.quarantined)


@FUZZ
@given(docs=st.lists(requests, min_size=1, max_size=3), as_lines=st.booleans())
@pytest.mark.slow
def test_the_file_import_never_fails_and_counts_every_row(fuzz_store, docs, as_lines):
    store, tmp = fuzz_store
    path = tmp / "fuzz.json"
    text = ("\n".join(json.dumps(d) for d in docs) + "\n" if as_lines or len(docs) > 1
            else json.dumps(docs[0], indent=1))
    path.write_text(text)
    opts = ImportOptions(format="otlp")
    first = import_file(store, path, opts)
    assert first.rows_read == _counted(first)
    again = import_file(store, path, opts)
    assert again.imported == 0  # re-importing adds nothing
    assert again.rows_read == _counted(again)


@FUZZ
@given(doc=requests)
@pytest.mark.slow
def test_every_span_the_receiver_acknowledges_reaches_the_store(fuzz_store, doc):
    store, tmp = fuzz_store
    body = json.dumps(doc).encode()
    checked = span_records(parse(body, JSON))  # what decides the 200 and its partial_success
    inbox = Path(tempfile.mkdtemp(dir=tmp))
    journal = Journal(inbox)
    kept = journal.accept(parse(body, JSON))  # what the receiver keeps before its 200
    assert (kept.accepted, kept.rejected) == (checked.accepted, checked.rejected)
    if not checked.records:
        assert not journal.pending()  # answered 400 (or 200 with nothing): nothing kept
        return
    spooled: list[int] = []
    assert Converter(journal, spooled.append).convert_pending() == len(checked.records)
    assert not journal.pending() and not (inbox / "failed").exists()
    [spool] = inbox.glob("otlp-*.parquet")
    result = import_file(store, spool, ImportOptions(origin="inbox"))
    assert result.rows_read == len(checked.records) == _counted(result)
    assert result.quarantined == 0, result.bad_rows  # nothing acknowledged is quarantined
    stored = set(store.rows("SELECT trace_id, span_id FROM spans"))
    for rec in checked.records:
        if rec.get("trace_id") and rec.get("span_id"):
            assert (rec["trace_id"], rec["span_id"]) in stored
