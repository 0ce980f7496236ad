"""Chunks from parsed span records: one Arrow type per column, whatever mix the readers kept."""

from __future__ import annotations

import json

import pyarrow as pa

from goldenloop.ingest.source import BadRow, records_chunk


def table(records: list[dict], **kw) -> pa.Table:
    chunk = records_chunk(records, **kw)
    return chunk.tables[chunk.relation]


def test_a_column_mixing_numbers_flags_and_text_becomes_text():
    t = table([
        {"_row": 1, "input_tokens": 12, "latency_ms": 1.5, "streamed": True},
        {"_row": 2, "input_tokens": "many", "latency_ms": "slow", "streamed": False},
        {"_row": 3, "input_tokens": None, "latency_ms": 2, "streamed": "maybe"},
    ])
    for name in ("input_tokens", "latency_ms", "streamed"):
        assert t.schema.field(name).type == pa.string(), name
    assert t.column("input_tokens").to_pylist() == ["12", "many", None]
    assert t.column("latency_ms").to_pylist() == ["1.5", "slow", "2"]
    assert t.column("streamed").to_pylist() == ["true", "false", "maybe"]


def test_a_column_of_flags_only_is_text_as_json_spells_it():
    t = table([{"_row": 1, "streamed": True}, {"_row": 2, "streamed": False}])
    assert t.column("streamed").to_pylist() == ["true", "false"]


def test_integer_columns_stay_integers():
    t = table([{"_row": 1, "input_tokens": 12}, {"_row": 2, "input_tokens": None},
               {"_row": 3, "input_tokens": 7}])
    assert t.schema.field("input_tokens").type == pa.int64()
    assert t.schema.field("_row").type == pa.int64()
    assert t.column("input_tokens").to_pylist() == [12, None, 7]


def test_integers_beside_floats_make_a_float_column():
    t = table([{"_row": 1, "latency_ms": 840}, {"_row": 2, "latency_ms": 12.25}])
    assert t.schema.field("latency_ms").type == pa.float64()
    assert t.column("latency_ms").to_pylist() == [840.0, 12.25]


def test_missing_and_null_values_are_nulls():
    chunk = records_chunk([
        {"_row": 1, "model": "gpt-4o", "_raw": '{"model": "gpt-4o"}'},
        {"_row": 2, "output": None},
        {"_row": 3, "empty": None},
    ])
    t = chunk.tables[chunk.relation]
    assert chunk.columns == ["empty", "model", "output"] and chunk.rows == 3
    assert t.column("_raw").to_pylist() == ['{"model": "gpt-4o"}', None, None]
    assert t.column("model").to_pylist() == ["gpt-4o", None, None]
    assert t.column("output").to_pylist() == [None, None, None]
    assert t.schema.field("empty").type == pa.string()


def test_json_fields_are_serialised_and_text_is_kept_as_read():
    msgs = [{"role": "user", "content": "Quel temps à Paris ?"}]
    t = table([
        {"_row": 1, "messages": msgs, "metadata": {"tenant": "acme", "n": 2},
         "tool_calls": [], "tags": ["beta", "eu"], "extra": {"k": 1}},
        {"_row": 2, "messages": '[{"role": "user"', "metadata": 5, "tags": "solo"},
    ])
    assert json.loads(t.column("messages")[0].as_py()) == msgs
    assert "à" in t.column("messages")[0].as_py()  # not \u-escaped
    assert t.column("messages")[1].as_py() == '[{"role": "user"'  # broken text, for quarantine
    assert [json.loads(v) for v in t.column("metadata").to_pylist()] == [
        {"tenant": "acme", "n": 2}, 5]
    assert t.column("tool_calls").to_pylist() == ["[]", None]
    assert [json.loads(v) for v in t.column("tags").to_pylist()] == [["beta", "eu"], ["solo"]]
    assert json.loads(t.column("extra")[0].as_py()) == {"k": 1}


def test_malformed_rows_are_copied_into_the_chunk():
    bad = [BadRow(2, "<line>", "not valid JSON", "{")]
    chunk = records_chunk([{"_row": 1, "model": "m"}], malformed=bad)
    bad.clear()
    assert [b.row for b in chunk.malformed] == [2]
