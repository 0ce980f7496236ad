"""Redaction as an import applies it: SQL templates per span field, the DuckDB functions
they call, and pseudonyms for ids.

Every text and JSON field goes through ``gl_redact`` / ``gl_redact_json`` (the detectors of
``goldenloop.ingest.redact``), tested a batch at a time in Arrow first, so texts with nothing
to mask never reach Python. ``user_id`` and ``session_id`` become ``anon-`` plus 16 hex digits
of an HMAC-SHA256 under a key kept beside the database (or ``GOLDENLOOP_REDACT_KEY``): the
same id always gets the same pseudonym, so conversations still group, and without the key it
cannot be looked up from a list of ids.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from goldenloop.ingest.redact import ANY_GATE, GATES, redact_json, redact_text, redact_with_gates

if TYPE_CHECKING:
    from goldenloop.store import Store

KEY_ENV = "GOLDENLOOP_REDACT_KEY"
TEXT_FIELDS = ("system_prompt", "last_user_message", "output", "error_message")
JSON_FIELDS = ("messages", "retrieved_context", "tool_calls", "metadata")
ID_FIELDS = ("user_id", "session_id")


@lru_cache(maxsize=65536)  # ids repeat across a user's spans
def pseudonym(value: str, key: bytes) -> str:
    """A stable stand-in for an id: the same id and key always give the same pseudonym."""
    return "anon-" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


def redaction_key(db: Path) -> bytes:
    """The pseudonym key: ``GOLDENLOOP_REDACT_KEY``, else a random key kept beside the
    database (created on first use, readable by its owner only)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode()
    path = db.with_name(db.name + ".redact.key")
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
    return key


def _arrow_udf(fn: Callable[[str], str], gate: str | None) -> Callable[[pa.Array], pa.Array]:
    """A batch function for DuckDB. With ``gate`` ("text" or "json"), each of ``GATES`` is
    tested on the whole batch in C++ first, and only texts some gate lets through reach the
    Python detectors, with the gates' answers (most prose never leaves Arrow)."""
    import pyarrow.compute as pc  # here: it costs every import start-up ~0.2 s unused

    def udf(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arr = arr.cast(pa.string())
        if gate is None:
            return pa.array([None if v is None else fn(v) for v in arr.to_pylist()], pa.string())
        # In JSON text, brackets, quotes and commas join words into long "tokens".
        seen = pc.replace_substring_regex(arr, r'[{}\[\]",]', " ") if gate == "json" else arr
        # One pass with every gate, then each gate apart on the few texts that passed.
        maybe = pc.fill_null(pc.match_substring_regex(seen, ANY_GATE), False)
        todo = pc.indices_nonzero(maybe)
        if len(todo) == 0:
            return arr
        passed = seen.take(todo)
        flags = list(zip(*(pc.match_substring_regex(passed, p).to_pylist() for _, p in GATES),
                         strict=True))
        texts = arr.take(todo).to_pylist()
        if gate == "json":
            done = [redact_json(t) for t in texts]
        else:
            done = [redact_with_gates(t, f) for t, f in zip(texts, flags, strict=True)]
        return pc.replace_with_mask(arr, maybe, pa.array(done, pa.string()))
    return udf


# Database path -> pseudonym key, looked up by ``gl_pseudonym`` when called, so an import
# under another key (``GOLDENLOOP_REDACT_KEY`` changed) uses that key.
_keys: dict[str, bytes] = {}


def register(store: Store) -> None:
    """Define ``gl_redact``, ``gl_redact_json`` and ``gl_pseudonym`` for ``store`` and fetch
    its pseudonym key. Call it before the import's transaction begins (a function defined
    later is not visible inside it).

    The functions are defined on the store's own connection, once: DuckDB keeps them in the
    database's catalog for every cursor, but calls into the connection that defined them, so
    one defined on a short-lived cursor crashes the process once that cursor is closed. A
    reopened store has a new connection and a new catalog, and gets them again.
    """
    path = str(store.path)
    _keys[path] = redaction_key(store.path)
    with store.exclusive():  # the write lock: the connection is not replaced meanwhile
        con = store.con
        con.execute("SELECT function_name FROM duckdb_functions() WHERE function_name LIKE 'gl_%'")
        defined = {name for (name,) in con.fetchall()}
        for name, fn, gate in (("gl_redact", redact_text, "text"),
                               ("gl_redact_json", redact_json, "json"),
                               ("gl_pseudonym", lambda v: pseudonym(v, _keys[path]), None)):
            if name not in defined:
                con.create_function(name, _arrow_udf(fn, gate), ["VARCHAR"], "VARCHAR",
                                    type="arrow", side_effects=False)


def redaction_templates() -> dict[str, str]:
    """Field → SQL template wrapping ``{expr}`` (needs ``register`` on the cursor first)."""
    out = {f: "gl_redact({expr})" for f in TEXT_FIELDS}
    out |= {f: "CAST(gl_redact_json(CAST({expr} AS VARCHAR)) AS JSON)" for f in JSON_FIELDS}
    out |= {f: "gl_pseudonym({expr})" for f in ID_FIELDS}
    out["tags"] = "list_transform({expr}, lambda t: gl_redact(t))"
    return out


RAW_TEMPLATE = "gl_redact({expr})"  # a quarantined row as read, and its reasons
