"""A dollar budget shared by a run's concurrent calls, and the price of one call.

Before each attempt a worker reserves the most that attempt can cost: every byte of the
prompt as a token (a token is at least one byte of UTF-8 text, plus a few per message) and
``max_tokens`` of answer, at the model's price. The reservation is refused when what is spent
plus what is reserved by calls in flight would pass the limit, and the run stops there. When
the answer comes back the reservation is replaced by the actual cost (from the usage the
endpoint reports). So spent money never passes the limit, whatever the concurrency, as long
as the endpoint bills no more than the tokens it was sent and ``max_tokens`` of answer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from goldenloop.errors import GoldenloopError
from goldenloop.pricing import price_rows

_TOKENS_PER_MESSAGE = 8  # chat formatting overhead, generously


class BudgetError(GoldenloopError):
    """A budget cannot be kept (no price for the judge's model)."""


@dataclass(frozen=True)
class Price:
    model: str
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        cached = min(max(cached_tokens, 0), max(input_tokens, 0))
        cached_price = self.input_per_mtok if self.cached_input_per_mtok is None \
            else self.cached_input_per_mtok
        return ((input_tokens - cached) * self.input_per_mtok + cached * cached_price
                + output_tokens * self.output_per_mtok) / 1e6

    def most(self, messages: list[dict[str, str]], max_tokens: int) -> float:
        """The most one call with these messages can cost."""
        prompt = sum(len(m["content"].encode()) + _TOKENS_PER_MESSAGE for m in messages)
        return self.cost(prompt, max_tokens)


def price_of(model: str, when: datetime | None = None, extra: str | None = None) -> Price | None:
    """The model's price valid at ``when`` (now), from the shipped and user price tables."""
    when = (when or datetime.now(UTC)).replace(tzinfo=None)
    best = None
    for r in price_rows(extra):
        if r["model"].strip() != model:
            continue
        start = datetime.fromisoformat(r["valid_from"].strip())
        if start <= when and (best is None or start >= best[0]):
            best = (start, r)
    if best is None:
        return None
    r = best[1]
    cached = (r.get("cached_input_per_mtok") or "").strip()
    return Price(model, float(r["input_per_mtok"]), float(r["output_per_mtok"]),
                 float(cached) if cached else None)


class Budget:
    """Thread-safe: ``reserve`` before a call, ``settle`` after it."""

    def __init__(self, limit_usd: float | None):
        self.limit = limit_usd
        self.spent = 0.0
        self.in_flight = 0.0
        self.exhausted = False
        self._lock = threading.Lock()

    def reserve(self, amount: float) -> bool:
        with self._lock:
            if self.exhausted:
                return False
            if self.limit is not None and self.spent + self.in_flight + amount > self.limit:
                self.exhausted = True  # stop the run here: no cheaper call sneaks in later
                return False
            self.in_flight += amount
            return True

    def settle(self, reserved: float, actual: float) -> None:
        with self._lock:
            self.in_flight -= reserved
            self.spent += actual

    @property
    def remaining(self) -> float | None:
        with self._lock:
            return None if self.limit is None else self.limit - self.spent - self.in_flight
