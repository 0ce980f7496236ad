"""The metrics a version comparison reports, each with the sums (or the quantile) it is made
of, which way is better, and its default practical threshold.

Defaults: 10% relative for amounts (latency, tokens, length, cost), absolute for rates (1 to
5 percentage points, by how noisy and how costly the rate is), 0.1 for sentiment on its -1..1
scale, and a quarter point for correctness grades.
"""

from __future__ import annotations

from dataclasses import dataclass

from goldenloop.errors import GoldenloopError

KINDS = ("relative", "absolute")


@dataclass(frozen=True)
class Threshold:
    """A difference matters in practice from ``value`` on: a share of side A's value
    (``relative``: 0.1 is 10%) or in the metric's own unit (``absolute``: 0.01 of a rate is
    one percentage point)."""

    kind: str
    value: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise GoldenloopError(f"a threshold is relative or absolute, not {self.kind!r}")
        if not self.value >= 0:
            raise GoldenloopError(f"a threshold cannot be negative (got {self.value})")

    def practical(self, a: float, diff: float) -> bool:
        limit = self.value * abs(a) if self.kind == "relative" else self.value
        return abs(diff) >= limit and diff != 0

    def describe(self, unit: str) -> str:
        if self.kind == "relative":
            return f"±{self.value:.0%}"
        if unit == "rate":
            return f"±{self.value * 100:g} pp"
        return f"±{self.value:g}"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    section: str
    unit: str  # ms, tokens, chars, usd, rate (0..1), score (-1..1), points, count
    threshold: Threshold
    better: str | None = None  # "higher", "lower" or None (neither is better by itself)
    num: str | None = None  # session sums: a ratio metric is sum(num) / sum(den) * scale
    den: str | None = None
    quantile: tuple[str, float] | None = None  # (per-request value, q) instead of a ratio
    scale: float = 1.0
    count: str | None = None  # the sum counting the values behind it (default: ``den``)

    @property
    def n(self) -> str | None:
        return self.count or self.den


REL10 = Threshold("relative", 0.10)


def _rate(key: str, label: str, section: str, num: str, den: str, pp: float,
          better: str | None = "lower") -> Metric:
    return Metric(key, label, section, "rate", Threshold("absolute", pp), better, num, den)


METRICS: tuple[Metric, ...] = (
    Metric("requests_per_session", "Requests per session", "Volume", "count", REL10, None,
           "requests", "sessions"),
    Metric("latency_p50", "Latency p50", "Latency", "ms", REL10, "lower",
           quantile=("latency_ms", 0.5)),
    Metric("latency_p95", "Latency p95", "Latency", "ms", REL10, "lower",
           quantile=("latency_ms", 0.95)),
    Metric("ttft_p50", "Time to first token p50", "Latency", "ms", REL10, "lower",
           quantile=("ttft_ms", 0.5)),
    Metric("input_tokens", "Input tokens per response", "Tokens and cost", "tokens", REL10,
           None, "input_tokens", "input_tokens_n"),
    Metric("output_tokens", "Output tokens per response", "Tokens and cost", "tokens", REL10,
           None, "output_tokens", "output_tokens_n"),
    Metric("cost_per_1k", "Cost per 1k requests", "Tokens and cost", "usd", REL10, "lower",
           "cost_usd", "priced", scale=1000.0),
    _rate("failure_rate", "Failure rate (all)", "Failures", "failures", "requests", 0.01),
    _rate("error_rate", "Error rate", "Failures", "errors", "requests", 0.01),
    _rate("timeout_rate", "Timeout rate", "Failures", "timeouts", "requests", 0.01),
    _rate("empty_rate", "Empty answer rate", "Failures", "empty", "requests", 0.01),
    Metric("output_chars", "Response length (characters)", "Answers", "chars", REL10, None,
           "output_chars", "output_chars_n"),
    _rate("refusal_rate", "Refusal rate", "Answers", "refusals", "refusal_n", 0.02),
    _rate("output_offensive", "Offensive language, model", "Tone", "output_offensive",
          "output_offensive_n", 0.01),
    _rate("user_offensive", "Offensive language, users", "Tone", "user_offensive",
          "user_offensive_n", 0.01),
    Metric("output_sentiment", "Sentiment, model (-1..1)", "Tone", "score",
           Threshold("absolute", 0.1), None, "output_sentiment", "output_sentiment_n"),
    Metric("user_sentiment", "Sentiment, users (-1..1)", "Tone", "score",
           Threshold("absolute", 0.1), "higher", "user_sentiment", "user_sentiment_n"),
    _rate("feedback_rate", "Requests with end-user feedback", "Feedback", "with_feedback",
          "requests", 0.02, better=None),
    _rate("thumbs_down", "Thumbs down (share of thumbs)", "Feedback", "thumbs_down", "thumbs",
          0.05),
    Metric("correctness_human", "Correctness, human grades", "Correctness", "points",
           Threshold("absolute", 0.25), "higher", "human_wv", "human_w", count="human_n"),
    Metric("correctness_judge", "Correctness, judge scores", "Correctness", "points",
           Threshold("absolute", 0.25), "higher", "judge_wv", "judge_w", count="judge_n"),
)
