"""The range every numeric and time span field must fall in, shared by the file importers'
vectorized validation (SQL) and the receiver's per-span check before it acknowledges.

A value outside its range is quarantined with its reason, never stored and never allowed to
fail a whole file: DuckDB raises (and stores nothing) when an INTEGER column meets 2^31 or a
timestamp meets 1e30 ns, and NaN or infinity would poison every average they enter.
"""

from __future__ import annotations

from datetime import datetime

INT32_MAX = 2**31 - 1
# Spans before 1980 or after 2100 are a unit mix-up (seconds read as ms), an epoch-zero
# default or a bad clock, not traffic. The floor is well below any real LLM traffic (2020 on)
# so that synthetic and back-dated test histories still import.
EARLIEST = datetime(1980, 1, 1)
LATEST = datetime(2100, 1, 1)
# A day: no single LLM call or application step runs longer; larger values are unit errors.
MAX_DURATION_MS = 86_400_000.0
# A single call costing more than this is an error in the data, not a bill.
MAX_COST_USD = 10_000.0

# field -> (lowest, highest), both inclusive; floats must also be finite.
NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "turn_index": (0, INT32_MAX),
    "input_tokens": (0, INT32_MAX),
    "output_tokens": (0, INT32_MAX),
    "cached_input_tokens": (0, INT32_MAX),
    "reasoning_tokens": (0, INT32_MAX),
    "latency_ms": (0.0, MAX_DURATION_MS),
    "ttft_ms": (0.0, MAX_DURATION_MS),
    "cost_usd": (0.0, MAX_COST_USD),
}
TIME_RANGE: tuple[datetime, datetime] = (EARLIEST, LATEST)
TIME_FIELDS = ("start_time", "end_time")


def numeric_problem(field: str, value: float | int | None) -> str | None:
    """Why ``value`` cannot be stored in ``field`` (None when it can, or is missing)."""
    if value is None:
        return None
    lo, hi = NUMERIC_RANGES[field]
    if value != value or value in (float("inf"), float("-inf")):
        return f"not a finite number: {value}"
    if value < lo:
        return f"below {lo}: {value}"
    if value > hi:
        return f"above {hi:,}: {value}"
    return None


def time_problem(value: datetime | None) -> str | None:
    """Why a start or end time cannot be stored (None when it can, or is missing)."""
    if value is None:
        return None
    if not EARLIEST <= value < LATEST:
        return f"outside {EARLIEST:%Y}–{LATEST:%Y}: {value}"
    return None
