"""Vectorized text building for the demo: templates with ``{slot}`` holes filled per row,
JSON string escaping, hex ids and number formatting — all on whole Arrow/numpy arrays.

Rows are grouped by template, so the Python loops run over templates, never over rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_SLOT = re.compile(r"\{(\w+)\}")
_HEX = np.frombuffer(b"0123456789abcdef", dtype="S1")

Text = pa.Array | pa.Scalar | str


def _parts(template: str) -> list[tuple[bool, str]]:
    """(is_slot, text) pieces of a template."""
    out, pos = [], 0
    for m in _SLOT.finditer(template):
        if m.start() > pos:
            out.append((False, template[pos:m.start()]))
        out.append((True, m.group(1)))
        pos = m.end()
    if pos < len(template):
        out.append((False, template[pos:]))
    return out


def cat(*parts: Text) -> pa.Array:
    """Element-wise concatenation of arrays and constants (at least one array)."""
    args = [pa.scalar(p, pa.string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, "")


def render(templates: Sequence[str], which: np.ndarray,
           slots: Mapping[str, pa.Array] | None = None) -> pa.Array:
    """Row i is ``templates[which[i]]`` with each ``{name}`` replaced by ``slots[name][i]``."""
    slots = slots or {}
    which = np.asarray(which, dtype=np.int64)
    n = len(which)
    if n == 0:
        return pa.array([], pa.string())
    order = np.argsort(which, kind="stable")
    sorted_which = which[order]
    bounds = np.flatnonzero(np.diff(sorted_which)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [n]))
    chunks = []
    for s, e in zip(starts, ends, strict=True):
        t = int(sorted_which[s])
        rows = pa.array(order[s:e])
        parts = _parts(templates[t])
        names = [txt for is_slot, txt in parts if is_slot]
        if not names:
            chunks.append(pa.repeat(pa.scalar(templates[t], pa.string()), e - s))
            continue
        args = [slots[txt].take(rows) if is_slot else txt for is_slot, txt in parts]
        chunks.append(cat(*args))
    joined = pa.concat_arrays([c.cast(pa.string()) for c in chunks])
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    return joined.take(pa.array(inverse))


def pick(pool: Sequence[str], idx: np.ndarray) -> pa.Array:
    """``pool[idx[i]]`` per row."""
    return pa.array(list(pool), pa.string()).take(pa.array(np.asarray(idx, dtype=np.int64)))


def choose(rng: np.random.Generator, pool: Sequence[str], n: int) -> pa.Array:
    return pick(pool, rng.integers(0, len(pool), n))


def where(mask: np.ndarray, a: Text, b: Text) -> pa.Array:
    """``a`` where ``mask`` else ``b``, element-wise."""
    a = pa.scalar(a, pa.string()) if isinstance(a, str) else a
    b = pa.scalar(b, pa.string()) if isinstance(b, str) else b
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), a, b)


def json_str(text: pa.Array) -> pa.Array:
    """Each text as a JSON string literal (quoted and escaped)."""
    t = pc.replace_substring(text, "\\", "\\\\")
    t = pc.replace_substring(t, '"', '\\"')
    t = pc.replace_substring(t, "\n", "\\n")
    t = pc.replace_substring(t, "\t", "\\t")
    return cat('"', t, '"')


def json_const(text: str) -> str:
    """A constant as a JSON string literal."""
    return json.dumps(text, ensure_ascii=False)


def num(values: np.ndarray) -> pa.Array:
    """Integers as decimal text."""
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


def padded(values: np.ndarray, width: int) -> pa.Array:
    """Integers as zero-padded decimal text."""
    return pc.utf8_lpad(num(values), width=width, padding="0")


def decimal2(values: np.ndarray) -> pa.Array:
    """Non-negative numbers below 10 with two decimals, e.g. ``0.87``."""
    cents = np.rint(np.asarray(values, dtype=np.float64) * 100).astype(np.int64)
    return cat(num(cents // 100), ".", padded(cents % 100, 2))


def money(values: np.ndarray) -> pa.Array:
    """Amounts as ``$12.34``."""
    cents = np.rint(np.asarray(values, dtype=np.float64) * 100).astype(np.int64)
    return cat("$", num(cents // 100), ".", padded(cents % 100, 2))


def hex_ids(rng: np.random.Generator, n: int, words: int = 1) -> pa.Array:
    """Random lowercase hex ids, 16 characters per 64-bit word (OpenTelemetry style)."""
    if n == 0:
        return pa.array([], pa.string())
    vals = rng.integers(0, np.iinfo(np.uint64).max, size=(n, words), dtype=np.uint64,
                        endpoint=True)
    shifts = np.arange(60, -1, -4, dtype=np.uint64)
    nibbles = (vals[:, :, None] >> shifts) & np.uint64(0xF)
    chars = _HEX[nibbles.reshape(n, words * 16).astype(np.intp)]
    fixed = np.ascontiguousarray(chars).view(f"S{words * 16}").reshape(n)
    return pa.array(fixed).cast(pa.string())


def day_label(times_us: np.ndarray, fmt: str = "%b %d") -> pa.Array:
    """Timestamps (microseconds since the epoch) formatted like ``Nov 30``."""
    ts = pa.array(np.asarray(times_us, dtype="datetime64[us]"))
    return pc.strftime(ts, format=fmt)


def list_array(values: Sequence[pa.Array]) -> pa.Array:
    """Per-row lists from equally long columns: row i is ``[v[i] for v in values]``."""
    n = len(values[0])
    flat = pa.concat_arrays([v.cast(pa.string()) for v in values])
    k = len(values)
    order = (np.arange(k)[None, :] * n + np.arange(n)[:, None]).reshape(-1)
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, flat.take(pa.array(order)))
