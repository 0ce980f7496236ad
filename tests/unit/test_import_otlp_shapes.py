"""OTLP JSON of the wrong shape, or with values the store cannot hold: each class becomes a
quarantined row naming its field and reason (never a traceback), the good span of the same
file still lands, and rows read = imported + duplicates + quarantined."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from otlp_support import T0, otlp_span, request

from goldenloop.ingest import import_file

GOOD = otlp_span({"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 12},
                 trace="a" * 32, span="1" * 16)
VICTIM = otlp_span({"gen_ai.request.model": "gpt-4o"}, trace="a" * 32, span="2" * 16)


def _span(doc: dict) -> dict:
    return doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]


def _attr(key: str, value: dict) -> Callable[[dict], None]:
    return lambda d: _span(d).__setitem__("attributes", [{"key": key, "value": value}])


def _set(key: str, value: object) -> Callable[[dict], None]:
    return lambda d: _span(d).__setitem__(key, value)


# (how the victim span is broken, the field the quarantine must name)
SPAN_CLASSES = {
    "attributes not a list": (_set("attributes", 5), "attributes"),
    "an attribute not a key-value pair": (_set("attributes", [5]), "attributes[0]"),
    "arrayValue not an array": (_attr("tags", {"arrayValue": 5}), "attributes.tags"),
    "kvlistValue not a list": (_attr("m", {"kvlistValue": 5}), "attributes.m"),
    "nested kvlist of the wrong shape": (
        _attr("m", {"kvlistValue": {"values": [{"key": "x", "value": {"arrayValue": "s"}}]}}),
        "attributes.m"),
    "status code a list": (_set("status", {"code": [2]}), "status.code"),
    "status not an object": (_set("status", "ERROR"), "status"),
    "event name a list": (_set("events", [{"name": ["exception"]}]), "events[0].name"),
    "events not a list": (_set("events", {"name": "x"}), "events"),
    "span name a list": (_set("name", ["chat"]), "name"),
    "trace id a number": (_set("traceId", 12), "trace_id"),
    "start time 1e30 (a float)": (_set("startTimeUnixNano", 1e30), "start_time"),
    "start time 10**30": (_set("startTimeUnixNano", 10**30), "start_time"),
    "start time 10**30 as text": (_set("startTimeUnixNano", str(10**30)), "start_time"),
    "start time NaN": (_set("startTimeUnixNano", float("nan")), "start_time"),
    "start time a fraction": (_set("startTimeUnixNano", f"{T0}.5"), "start_time"),
    "start time before 2000": (_set("startTimeUnixNano", "5"), "start_time"),
    "end time of text": (_set("endTimeUnixNano", "soon"), "end_time"),
    "input tokens over INTEGER": (
        _attr("gen_ai.usage.input_tokens", {"intValue": "99999999999"}), "input_tokens"),
    "input tokens a fraction": (
        _attr("gen_ai.usage.input_tokens", {"stringValue": "1.5"}), "input_tokens"),
    "output tokens negative": (
        _attr("gen_ai.usage.output_tokens", {"intValue": "-3"}), "output_tokens"),
    "cost NaN": (_attr("llm.cost.total", {"doubleValue": "NaN"}), "cost_usd"),
    "cost infinite": (_attr("llm.cost.total", {"doubleValue": "Infinity"}), "cost_usd"),
    "time to first token 1e20 s": (
        _attr("gen_ai.response.time_to_first_chunk", {"doubleValue": 1e20}), "ttft_ms"),
}


def import_doc(store, tmp_path: Path, doc: dict | str):
    path = tmp_path / "export.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    result = import_file(store, path)  # must not raise
    assert result.rows_read == result.imported + result.duplicates + result.quarantined
    return result


def quarantine(store) -> list[tuple]:
    return store.rows("SELECT row_number, field, reason, raw FROM quarantine ORDER BY row_number")


@pytest.mark.parametrize("case", list(SPAN_CLASSES))
@pytest.mark.slow
def test_a_broken_span_is_quarantined_with_its_field_and_the_good_one_lands(
        store, tmp_path, case):
    breaks, field = SPAN_CLASSES[case]
    doc = request(copy.deepcopy(GOOD), copy.deepcopy(VICTIM))
    breaks(doc)
    result = import_doc(store, tmp_path, doc)
    assert (result.rows_read, result.imported, result.quarantined) == (2, 1, 1)
    [(row, got_field, reason, raw)] = quarantine(store)
    assert (row, got_field) == (2, field)
    assert reason and "Traceback" not in reason
    assert json.loads(raw.replace("NaN", "null"))["spanId"] == "2" * 16  # the span as read
    assert store.scalar("SELECT span_id FROM spans") == "1" * 16


def _scope(doc: dict) -> dict:
    return doc["resourceSpans"][0]["scopeSpans"][0]


# Containers that should hold spans but do not: one quarantined row each, not one per
# character of a string ("spans": "abc" once counted as 3 rows read).
CONTAINER_CLASSES = {
    "spans a number": (lambda d: _scope(d).__setitem__("spans", 5), "spans"),
    "spans a string": (lambda d: _scope(d).__setitem__("spans", "abc"), "spans"),
    "scopeSpans a number": (lambda d: d["resourceSpans"][0].__setitem__("scopeSpans", 5),
                            "scopeSpans"),
    "scope not an object": (lambda d: _scope(d).__setitem__("scope", [1]), "scope"),
    "resource attributes not a list": (
        lambda d: d["resourceSpans"][0]["resource"].__setitem__("attributes", 5),
        "resource.attributes"),
    "resourceSpans a string": (lambda d: d.__setitem__("resourceSpans", "abc"), "resourceSpans"),
    "a resourceSpans entry a number": (lambda d: d["resourceSpans"].append(7), "resourceSpans"),
    "a span a string": (lambda d: _scope(d)["spans"].append("span"), "<span>"),
}


@pytest.mark.parametrize("case", list(CONTAINER_CLASSES))
def test_a_container_of_the_wrong_shape_is_one_quarantined_row(store, tmp_path, case):
    breaks, field = CONTAINER_CLASSES[case]
    doc = request(copy.deepcopy(GOOD))
    breaks(doc)
    # A second, well-formed request in the same file (JSON Lines) must land whatever happened.
    other = request(otlp_span({}, trace="b" * 32, span="3" * 16, start=T0))
    result = import_doc(store, tmp_path, json.dumps(doc) + "\n" + json.dumps(other) + "\n")
    assert result.quarantined == 1
    assert [r[1] for r in quarantine(store)] == [field]
    assert "3" * 16 in {r[0] for r in store.rows("SELECT span_id FROM spans")}
    assert result.rows_read == result.imported + result.quarantined


def test_numbers_sent_as_text_are_stored_as_numbers(store, tmp_path):
    span = otlp_span({}, trace="c" * 32, span="4" * 16)
    span["attributes"] = [{"key": "gen_ai.usage.input_tokens", "value": {"stringValue": "42"}},
                          {"key": "llm.cost.total", "value": {"stringValue": "0.25"}}]
    span["startTimeUnixNano"] = float(T0)  # an integral JSON number is a time too
    result = import_doc(store, tmp_path, request(span))
    assert (result.imported, result.quarantined) == (1, 0)
    assert store.rows("SELECT input_tokens, cost_usd FROM spans") == [(42, 0.25)]
