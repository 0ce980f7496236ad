"""The catalogue of monitored metrics: one name per series, shared by detection, the
Anomalies page and alert rules.

Each metric says what kind of statistic it is, which tells detection how to test it:
``rate`` (a numerator out of a denominator: tested as counts), ``mean`` (an average of
per-request values), ``quantile`` (a percentile of per-request values), ``count`` (how
many in a bucket). ``bad`` says which direction is a problem (``up``, ``down`` or
``both``); detection reports only bad directions. ``scale`` is how values are compared:
``log`` for positive skewed values (a latency twice as long is the same news at 100 ms and
at 10 s), ``sqrt`` for counts (it makes Poisson noise about constant), ``linear`` otherwise.
``min_effect`` is the practical minimum change worth an anomaly: a fold change for
``log``/``sqrt`` metrics (0.3 = 1.3 times more, or 1.3 times less), an absolute one for
rates (0.02 = 2 percentage points) and linear means, so a tiny but very significant drift at
high volume stays quiet. It applies to lasting shifts and version changes; one hour's spike
or dip must reach ``spike_effect`` (larger for noisy hourly values such as latency).
"""

from __future__ import annotations

from dataclasses import dataclass

from goldenloop.errors import AnomalyError


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    unit: str
    kind: str  # rate, mean, quantile, count
    bad: str  # up, down, both
    scale: str  # log, sqrt, linear
    min_effect: float
    source: str  # requests, signals, feedback, grades, sessions, tools: which aggregate has it
    numerator: str = ""  # rate metrics: what counts
    denominator: str = ""  # rate metrics: out of what
    spike_effect: float = 0.0  # an hour's change must reach this (0: ``min_effect``)

    @property
    def hourly_effect(self) -> float:
        return self.spike_effect or self.min_effect


def _m(name, title, unit, kind, bad, scale, min_effect, source, num="", den="", spike=0.0):
    return Metric(name, title, unit, kind, bad, scale, min_effect, source, num, den, spike)


METRICS: tuple[Metric, ...] = (
    _m("requests", "Requests", "requests/h", "count", "both", "sqrt", 1.0, "requests", spike=2.0),
    _m("latency_p50", "Latency p50", "ms", "quantile", "up", "log", 0.3, "requests", spike=1.0),
    _m("latency_p95", "Latency p95", "ms", "quantile", "up", "log", 0.3, "requests", spike=1.0),
    _m("latency_p99", "Latency p99", "ms", "quantile", "up", "log", 0.3, "requests", spike=1.0),
    _m("ttft_p95", "Time to first token p95", "ms", "quantile", "up", "log", 0.3, "requests", spike=1.0),
    _m("error_rate", "Error rate", "share", "rate", "up", "linear", 0.02, "requests",
       "requests with status error", "requests"),
    _m("timeout_rate", "Timeout rate", "share", "rate", "up", "linear", 0.02, "requests",
       "requests with status timeout", "requests"),
    _m("empty_rate", "Empty answer rate", "share", "rate", "up", "linear", 0.02, "requests",
       "requests with status empty", "requests"),
    _m("input_tokens", "Input tokens per request", "tokens", "mean", "both", "log", 0.3,
       "requests", spike=0.5),
    _m("output_tokens", "Output tokens per request", "tokens", "mean", "both", "log", 0.2,
       "requests", spike=0.5),
    _m("cost_usd", "Cost per request", "USD", "mean", "up", "log", 0.3, "requests", spike=0.5),
    _m("user_offensive_rate", "Offensive user messages", "share", "rate", "up", "linear", 0.02,
       "signals", "user messages scored offensive", "scored user messages"),
    _m("output_offensive_rate", "Offensive answers", "share", "rate", "up", "linear", 0.01,
       "signals", "answers scored offensive", "scored answers"),
    _m("user_sentiment", "User sentiment", "compound", "mean", "down", "linear", 0.1, "signals"),
    _m("output_sentiment", "Answer sentiment", "compound", "mean", "down", "linear", 0.1,
       "signals"),
    _m("refusal_rate", "Refusal rate", "share", "rate", "up", "linear", 0.02, "signals",
       "answers that refuse", "scored answers"),
    _m("negative_feedback_rate", "Negative feedback", "share", "rate", "up", "linear", 0.05,
       "feedback", "thumbs down", "thumbs given"),
    _m("turns_per_session", "Turns (LLM calls) per session", "turns", "mean", "both", "log", 0.3,
       "sessions"),
    _m("dropoff_rate", "Drop-off rate", "share", "rate", "up", "linear", 0.05, "sessions",
       "sessions whose last turn failed", "sessions"),
    _m("correctness", "Correctness (grades)", "grade", "mean", "down", "linear", 0.25,
       "grades"),
    _m("tool_error_rate", "Tool/retrieval failure rate", "share", "rate", "up", "linear", 0.02,
       "tools", "tool and retrieval spans that failed", "tool and retrieval spans"),
    _m("tool_latency_p95", "Tool/retrieval latency p95", "ms", "quantile", "up", "log", 0.3,
       "tools", spike=1.0),
    # One point per canary run, not per hour: tested on the items paired run to run
    # (anomalies.canary). The minimum is a fall of the mean score by 0.05 (one item in 20).
    _m("canary_score", "Canary score", "score", "mean", "down", "linear", 0.05, "canaries"),
)

BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}
METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)
# Dimensions a series can be split by (NULL dimension: the whole app).
DIMENSIONS = ("model_version", "prompt_version", "component", "error_type")


def metric(name: str) -> Metric:
    try:
        return BY_NAME[name]
    except KeyError:
        raise AnomalyError(f"unknown metric {name!r}: choose one of "
                           f"{', '.join(METRIC_NAMES)}") from None
