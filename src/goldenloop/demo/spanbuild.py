"""Shared pieces of building span rows: the Arrow table shape, the hidden truth kept per LLM
span (for feedback and grades), model-call outcomes (status, errors, latency) and tokens."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from goldenloop.store.span_columns import SPAN_FIELDS

_ARROW = {"text": pa.string(), "int": pa.int32(), "float": pa.float64(),
          "time": pa.timestamp("us"), "json": pa.string(), "tags": pa.list_(pa.string())}
SCHEMA = pa.schema([(f.name, _ARROW[f.kind]) for f in SPAN_FIELDS if f.name != "cost_usd"])

OK, ERROR, TIMEOUT, EMPTY = range(4)
STATUS_NAMES = ("ok", "error", "timeout", "empty")
TIMEOUT_MS = 30_000.0

ERRORS = (  # (error_type, error_message) of failed model calls
    ("InternalServerError",
     "Error code: 500 - {'error': {'message': 'The server had an error while processing your "
     "request. Sorry about that!', 'type': 'server_error'}}"),
    ("APIConnectionError", "Connection error."),
    ("RateLimitError",
     "Error code: 429 - {'error': {'message': 'Rate limit reached for requests per min (RPM). "
     "Please try again in 20ms.', 'type': 'requests', 'code': 'rate_limit_exceeded'}}"),
    ("BadRequestError",
     "Error code: 400 - {'error': {'message': \"This model's maximum context length was "
     "exceeded.\", 'type': 'invalid_request_error', 'code': 'context_length_exceeded'}}"),
)
RATE_LIMIT, CONTEXT_LENGTH = 2, 3
TIMEOUT_ERROR = ("APITimeoutError", "Request timed out.")


def times(us: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(us, dtype=np.int64).astype("datetime64[us]"))


def ints(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    v = np.asarray(values).astype(np.int32)
    return pa.array(v, pa.int32(), mask=None if valid is None else ~np.asarray(valid, bool))


def floats(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    v = np.asarray(values, dtype=np.float64)
    return pa.array(v, pa.float64(), mask=None if valid is None else ~np.asarray(valid, bool))


def const(value: str | None, n: int) -> pa.Array:
    return pa.nulls(n, pa.string()) if value is None else pa.repeat(pa.scalar(value), n)


def table(n: int, cols: dict[str, pa.Array | str | None]) -> pa.Table:
    """A span table of ``n`` rows in ``SCHEMA`` order; missing columns are NULL."""
    arrays = []
    for f in SCHEMA:
        v = cols.get(f.name)
        if v is None:
            arrays.append(pa.nulls(n, f.type))
        elif isinstance(v, str):
            arrays.append(pa.repeat(pa.scalar(v, f.type), n))
        else:
            arrays.append(v.cast(f.type) if v.type != f.type else v)
    unknown = set(cols) - set(SCHEMA.names)
    if unknown:
        raise KeyError(f"not span columns: {sorted(unknown)}")
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


@dataclass
class Truth:
    """What really happened in each LLM span, never stored with the span."""

    trace_id: pa.Array
    span_id: pa.Array
    session_id: pa.Array
    user_id: pa.Array
    app: np.ndarray  # 1 support-bot, 2 sql-assistant
    version: np.ndarray  # index into MODEL_VERSIONS
    start_us: np.ndarray
    end_us: np.ndarray
    status: np.ndarray  # OK, ERROR, TIMEOUT, EMPTY
    quality: np.ndarray  # correctness 1-5
    tone: np.ndarray  # index into texts_answers.TONES
    mood: np.ndarray  # index into texts_support.MOODS
    is_last: np.ndarray  # last turn of its session

    @property
    def n(self) -> int:
        return len(self.app)

    @classmethod
    def concat(cls, parts: list[Truth]) -> Truth:
        out = {}
        for f in fields(cls):
            vals = [getattr(p, f.name) for p in parts]
            if isinstance(vals[0], pa.Array):
                out[f.name] = pa.concat_arrays(vals)
            else:
                out[f.name] = np.concatenate(vals)
        return cls(**out)


def outcome(rng: np.random.Generator, n: int, p_error: np.ndarray, p_timeout: np.ndarray,
            p_empty: float, rate_limited: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Status of each model call and the index of its error in ERRORS (-1 for none)."""
    u = rng.random(n)
    status = np.select([u < p_timeout, u < p_timeout + p_error,
                        u < p_timeout + p_error + p_empty], [TIMEOUT, ERROR, EMPTY], OK)
    err = np.where(status == ERROR, rng.choice(3, n, p=[0.5, 0.2, 0.3]), -1)
    if rate_limited is not None:
        err = np.where((status == ERROR) & rate_limited, RATE_LIMIT, err)
    return status, err


def error_columns(status: np.ndarray, err: np.ndarray) -> dict[str, pa.Array]:
    types = [e[0] for e in ERRORS] + [TIMEOUT_ERROR[0]]
    msgs = [e[1] for e in ERRORS] + [TIMEOUT_ERROR[1]]
    which = np.where(status == TIMEOUT, len(ERRORS), err)
    mask = pa.array(which < 0)
    idx = pa.array(np.maximum(which, 0))
    return {
        "error_type": pc.if_else(mask, pa.scalar(None, pa.string()), pa.array(types).take(idx)),
        "error_message": pc.if_else(mask, pa.scalar(None, pa.string()), pa.array(msgs).take(idx)),
        "status": pa.array(STATUS_NAMES).take(pa.array(status)),
    }


def tokens_of(text: pa.Array, chars_per_token: float, rng: np.random.Generator) -> np.ndarray:
    """Token counts consistent with the text's length (about 4 characters per token)."""
    chars = pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
    jitter = rng.uniform(0.94, 1.06, len(chars))
    return np.maximum(np.rint(chars / chars_per_token * jitter), 1).astype(np.int64)


def cached_tokens(rng: np.random.Generator, input_tokens: np.ndarray,
                  eligible: np.ndarray) -> np.ndarray:
    """Prompt caching: prompts of 1,024+ tokens whose prefix (the previous turn's prompt) was
    seen minutes ago are mostly served from cache, counted in blocks of 128 tokens."""
    prefix = np.floor(input_tokens * rng.uniform(0.75, 0.95, len(input_tokens)) / 128) * 128
    hit = eligible & (input_tokens >= 1024) & (rng.random(len(input_tokens)) < 0.8)
    return np.where(hit, np.maximum(prefix, 1024), 0).astype(np.int64)


def tail(rng: np.random.Generator, n: int) -> np.ndarray:
    """Multiplier for occasional very slow calls on top of the lognormal spread."""
    slow = rng.random(n) < 0.02
    return np.where(slow, rng.uniform(2.0, 5.0, n), 1.0)
