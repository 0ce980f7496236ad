"""Format detection by extension and a look at the first record (or, when it does not parse, at
the keys named in the first MiB of text), and the reader registry."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from goldenloop.errors import ImportFileError
from goldenloop.ingest import jsonl, tables
from goldenloop.ingest.encoding import UTF8, Encoding
from goldenloop.ingest.source import SourceChunk

Reader = Callable[..., Iterator[SourceChunk]]

READERS: dict[str, Reader] = {
    "parquet": lambda p, cur, opts: tables.read_parquet(p),
    "csv": lambda p, cur, opts: tables.read_csv(p, enc=_enc(opts)),
    "tsv": lambda p, cur, opts: tables.read_csv(p, delimiter="\t", enc=_enc(opts)),
    "jsonl": lambda p, cur, opts: jsonl.read_jsonl(p, cur, opts.line_count, _enc(opts),
                                                   getattr(opts, "careful", False),
                                                   getattr(opts, "batch_rows", None)),
    # Readers of nested log formats are imported on use: they are larger and often unused.
    "otlp": lambda p, cur, opts: _otlp().read_otlp(p),
    "openai-batch": lambda p, cur, opts: _openai().read_batch(p, opts.batch_input),
    "openai-pairs": lambda p, cur, opts: _openai().read_pairs(p),
}


def _enc(opts) -> Encoding:
    """The encoding the loader chose for the file (grade imports pass no choice: UTF-8)."""
    return getattr(opts, "text_encoding", None) or UTF8


def _otlp():
    from goldenloop.ingest import otlp

    return otlp


def _openai():
    from goldenloop.ingest import openai_logs

    return openai_logs


def register(name: str, reader: Reader) -> None:
    READERS[name] = reader


_HEAD_CHARS = 1 << 20
# Keys looked for in the text when the first record does not parse (a broken first line, or a
# pretty-printed document larger than the head). Quoted and followed by a colon, so a key name
# quoted inside a string value (escaped there) does not count.
_OTLP_KEY = re.compile(r'"(?:resourceSpans|resource_spans)"\s*:')
_BATCH_KEYS = (re.compile(r'"custom_id"\s*:'), re.compile(r'"response"\s*:'))


def _head(p: Path) -> str:
    with open(p, encoding="utf-8", errors="replace") as fh:
        return fh.read(_HEAD_CHARS)


def _first_json(head: str) -> object | None:
    stripped = head.lstrip()
    if stripped.startswith("{") and "\n" in stripped:
        first = stripped.split("\n", 1)[0]
        try:
            return json.loads(first)
        except ValueError:
            pass
    try:
        return json.loads(head) if len(head) < _HEAD_CHARS else None
    except ValueError:
        return None


def _json_format(p: Path) -> str:
    head = _head(p)
    first = _first_json(head)
    if isinstance(first, dict):
        if "resourceSpans" in first or "resource_spans" in first:
            return "otlp"
        if "custom_id" in first and "response" in first:
            return "openai-batch"
        if "request" in first and "response" in first:
            return "openai-pairs"
        return "jsonl"
    if first is None:
        # "request" and "response" are too common to tell pairs from text alone.
        if _OTLP_KEY.search(head):
            return "otlp"
        if all(k.search(head) for k in _BATCH_KEYS):
            return "openai-batch"
    return "jsonl"


def detect_format(p: Path) -> str:
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    if suffix == ".tsv":
        return "tsv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _json_format(p)
    raise ImportFileError(
        f"{p}: cannot tell the format from the name; pass --format "
        f"({', '.join(READERS)})"
    )
