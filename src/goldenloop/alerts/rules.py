"""Alert rule definitions: what a rule says (metric, filter, window, condition, levels,
interval, cooldown, channels), validated with pydantic, and the YAML file that holds rules
kept in git (``alerts.yaml`` beside the database unless ``--alerts-file`` or
``GOLDENLOOP_ALERTS_FILE`` names another).

A bad definition raises ``RuleError`` naming the file, the rule and the field.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from goldenloop.errors import GoldenloopError

FILE_NAME = "alerts.yaml"
FILE_ENV = "GOLDENLOOP_ALERTS_FILE"
PUBLIC_URL_ENV = "GOLDENLOOP_PUBLIC_URL"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8501"

# The metrics a rule can watch (the names detection uses), with what their value is.
METRICS: dict[str, str] = {
    "requests": "LLM requests in the window",
    "latency_p50": "median latency (ms)",
    "latency_p95": "95th percentile latency (ms)",
    "latency_p99": "99th percentile latency (ms)",
    "ttft_p95": "95th percentile time to first token (ms)",
    "error_rate": "share of requests that failed with an error",
    "timeout_rate": "share of requests that timed out",
    "empty_rate": "share of requests answered with nothing",
    "input_tokens": "mean input tokens per answered request",
    "output_tokens": "mean output tokens per answered request",
    "cost_usd": "mean cost per priced request (USD), as detection measures it",
    "cost_total_usd": "cost of all the requests in the window (USD): spend",
    "user_offensive_rate": "share of user messages scored offensive",
    "output_offensive_rate": "share of answers scored offensive",
    "user_sentiment": "mean sentiment of user messages (-1 to 1)",
    "output_sentiment": "mean sentiment of answers (-1 to 1)",
    "refusal_rate": "share of answers that refuse",
    "negative_feedback_rate": "share of thumbs given that are thumbs down",
    "correctness": "mean correctness grade (human and judge) of graded requests",
    "tool_error_rate": "share of tool and retrieval spans that failed",
    "tool_latency_p95": "95th percentile latency of tool and retrieval spans (ms)",
    "anomalies": "highest severity of the open anomalies (1 low, 2 medium, 3 high; 0 none)",
    "canary_score": "mean score (by one scorer) of the canary runs started in the window",
}
CONDITIONS = ("above", "below", "change", "anomaly", "no_data")
STATES = ("OK", "WARN", "ALERT", "NO_DATA")
# Totals over the window rather than per-request values: compared with a longer baseline
# period they are scaled to the window's length, and an empty window is 0, not "no data".
EXTENSIVE = frozenset({"requests", "cost_total_usd"})

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RuleError(GoldenloopError):
    """A rule or an alerts file that cannot be used (says file, rule and field)."""


class ChannelError(GoldenloopError):
    """A channel cannot be reached as configured (e.g. its environment variable is unset)."""


def parse_duration(value: Any) -> timedelta:
    """``90s``, ``5m``, ``1h``, ``2d``, ``1w``, a number of seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"{value!r} is not a duration: write e.g. 90s, 5m, 1h, 2d or 1w")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(td: timedelta) -> str:
    seconds = int(td.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
_Model = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Channel(BaseModel):
    """Where a rule's notifications go: goldenloop's JSON ``webhook``, or any ``apprise``
    URL (Slack, Teams, Discord, e-mail, PagerDuty, ...). The URL is read from the
    environment variable ``url_env`` when the notification is sent; ``url`` is stored as
    written, so use it only for URLs that hold no secret (a loopback or internal receiver)."""

    model_config = _Model
    type: Literal["webhook", "apprise"]
    name: str | None = Field(default=None, max_length=60)
    url_env: str | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Channel:
        if (self.url_env is None) == (self.url is None):
            raise ValueError("give exactly one of url_env (an environment variable holding "
                             "the URL: for anything with a token in it) or url")
        if self.url_env is not None and not _ENV_NAME.match(self.url_env):
            raise ValueError(f"url_env must be an environment variable name, not {self.url_env!r}")
        if self.url is not None and "://" not in self.url:
            raise ValueError("url must be a URL such as http://host/path or json://host:port/path")
        return self

    @property
    def label(self) -> str:
        """How deliveries name the channel: never the URL."""
        return f"{self.type}:{self.name or self.url_env or 'url'}"

    def resolve_url(self) -> str:
        if self.url is not None:
            return self.url
        value = os.environ.get(self.url_env or "", "").strip()
        if not value:
            raise ChannelError(f"channel {self.label}: the environment variable {self.url_env} "
                               "is not set in the process that sends notifications")
        return value


class RuleFilter(BaseModel):
    """Which traffic a rule watches; empty lists select everything (the Monitor's filter)."""

    model_config = _Model
    apps: list[str] = []
    environments: list[str] = []
    model_versions: list[str] = []
    prompt_versions: list[str] = []
    tags: list[str] = []
    suites: list[str] = []            # metric canary_score: only these canary suites

    def span_filter(self) -> Any:
        """The rule's spans as the one span filter (the store's module: the metrics package
        takes seconds to load, and listing or validating rules needs none of it)."""
        from goldenloop.store.span_filter import SpanFilter

        return SpanFilter(apps=tuple(self.apps), environments=tuple(self.environments),
                          model_versions=tuple(self.model_versions),
                          prompt_versions=tuple(self.prompt_versions), tags=tuple(self.tags))

    def key(self) -> tuple:
        return tuple(tuple(sorted(getattr(self, k))) for k in type(self).model_fields)


class Rule(BaseModel):
    """One alert rule. See docs/alerts.md for every field with examples."""

    model_config = _Model
    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    metric: Literal[tuple(METRICS)]  # type: ignore[valid-type]
    filter: RuleFilter = RuleFilter()
    window: Duration = timedelta(hours=1)
    condition: Literal[CONDITIONS]  # type: ignore[valid-type]
    warn: float | None = None
    critical: float | None = None
    # condition "change": against the previous window, or the same clock window of the
    # previous ``baseline_days`` days (which keeps the daily cycle out of the comparison).
    compare_to: Literal["previous", "baseline"] = "previous"
    baseline_days: int = Field(default=7, ge=1, le=60)
    direction: Literal["up", "down", "both"] = "up"
    min_samples: int = Field(default=1, ge=1)
    anomaly_metrics: list[str] = []   # condition "anomaly": only these metrics' anomalies
    criterion: str = "correctness"    # metric "correctness": the graded criterion
    scorer: str | None = None         # metric canary_score: the scorer whose mean is watched
    no_data_state: Literal["NO_DATA", "ALERT", "OK"] = "NO_DATA"
    interval: Duration = timedelta(minutes=5)
    cooldown: Duration = timedelta(hours=1)
    channels: list[Channel] = []
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if _CONTROL.search(self.name):
            raise ValueError("name: control characters are not allowed")
        _check_levels(self)
        _check_canary(self)
        if self.compare_to == "baseline" and self.window > timedelta(days=1):
            raise ValueError("compare_to baseline compares the same clock window of previous "
                             "days: the window must be at most 1d")
        labels = [c.label for c in self.channels]
        if len(labels) != len(set(labels)):
            raise ValueError("channels: two channels have the same name; give each a name")
        return self

    def definition(self) -> dict[str, Any]:
        """The rule as JSON-ready data without defaults (what YAML and the store keep)."""
        return self.model_dump(mode="json", exclude_defaults=True) | {
            "name": self.name, "metric": self.metric, "condition": self.condition}


def _check_canary(rule: Rule) -> None:
    """Canary runs have no app, environment, prompt version or tags of production traffic:
    a canary rule filters by suite and by the model version that answered, and names a scorer
    (means of different scorers are on different scales)."""
    f = rule.filter
    if rule.metric != "canary_score":
        if f.suites:
            raise ValueError("filter.suites applies to metric canary_score only")
        if rule.scorer is not None:
            raise ValueError("scorer applies to metric canary_score only")
        return
    if not rule.scorer:
        raise ValueError("metric canary_score needs a scorer (e.g. exact or token_f1)")
    extra = [k for k in ("apps", "environments", "prompt_versions", "tags") if getattr(f, k)]
    if extra:
        raise ValueError(f"metric canary_score filters by suites and model_versions only, not "
                         f"{', '.join(extra)}")


def _check_levels(rule: Rule) -> None:
    levels = [v for v in (rule.warn, rule.critical) if v is not None]
    if (rule.metric == "anomalies") != (rule.condition == "anomaly"):
        raise ValueError("condition anomaly goes with metric anomalies, and only with it")
    if rule.condition == "no_data":
        if levels:
            raise ValueError("condition no_data takes no warn or critical level")
        return
    if not levels:
        raise ValueError(f"condition {rule.condition} needs a warn or a critical level (or both)")
    if rule.condition == "anomaly" and any(v not in (1, 2, 3) for v in levels):
        raise ValueError("anomaly levels are severities: 1 (low), 2 (medium) or 3 (high)")
    if rule.condition == "change" and any(v <= 0 for v in levels):
        raise ValueError("change levels are relative changes above zero (0.5 means 50%)")
    if len(levels) == 2:
        w, c = rule.warn, rule.critical
        worse_first = w < c if rule.condition != "below" else w > c
        if not worse_first:
            raise ValueError(f"critical ({c}) must be beyond warn ({w}) for condition "
                             f"{rule.condition}")


def validation_message(exc: ValidationError) -> str:
    """One line per problem: the field path and pydantic's reason, without its URL noise."""
    parts = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e["loc"]) or "rule"
        msg = str(e["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def parse_rule(data: Any, where: str = "rule") -> Rule:
    """A Rule from a mapping, or RuleError saying ``where`` and what is wrong."""
    if not isinstance(data, dict):
        raise RuleError(f"{where}: a rule is a mapping of fields (name, metric, condition, ...)")
    try:
        return Rule.model_validate(data)
    except ValidationError as exc:
        name = data.get("name")
        label = f"{where} ({name!r})" if isinstance(name, str) else where
        raise RuleError(f"{label}: {validation_message(exc)}") from None


class Delivery(BaseModel):
    """How hard to try: ``attempts`` in all, the first retry after ``backoff``, each later one
    three times further apart; ``timeout`` per attempt."""

    model_config = _Model
    attempts: int = Field(default=4, ge=1, le=10)
    backoff: Duration = timedelta(seconds=10)
    timeout: Duration = timedelta(seconds=10)


class AlertsFile(BaseModel):
    """The YAML file: rules, and optionally the app's public URL that messages link to and
    the delivery retries."""

    model_config = ConfigDict(extra="forbid")
    public_url: str | None = None
    delivery: Delivery = Delivery()
    rules: list[Rule] = []


def alerts_file_path(data_dir: Path, override: str | os.PathLike | None = None) -> Path:
    """``override``, else ``$GOLDENLOOP_ALERTS_FILE``, else alerts.yaml beside the database."""
    chosen = override or os.environ.get(FILE_ENV) or Path(data_dir) / FILE_NAME
    return Path(chosen).expanduser().resolve()


def load_file(path: Path) -> AlertsFile:
    """Rules from a YAML file; an absent file holds none. RuleError names file, rule, field."""
    path = Path(path)
    if not path.is_file():
        return AlertsFile()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleError(f"{path.name}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise RuleError(f"{path.name}: expected a mapping with a `rules:` list")
    unknown = set(data) - {"public_url", "delivery", "rules"}
    if unknown:
        raise RuleError(f"{path.name}: unknown keys {', '.join(sorted(map(str, unknown)))} "
                        "(expected public_url, delivery and rules)")
    try:
        delivery = Delivery.model_validate(data.get("delivery") or {})
    except ValidationError as exc:
        raise RuleError(f"{path.name}: delivery: {validation_message(exc)}") from None
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        raise RuleError(f"{path.name}: rules must be a list")
    rules = [parse_rule(r, f"{path.name}: rules[{i}]") for i, r in enumerate(raw_rules)]
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RuleError(f"{path.name}: rule names must be unique: {', '.join(map(repr, dupes))}")
    return AlertsFile(public_url=data.get("public_url"), delivery=delivery, rules=rules)


def public_url(file: AlertsFile | None = None) -> str:
    """The app's address messages link to: $GOLDENLOOP_PUBLIC_URL, the file's, or loopback."""
    chosen = os.environ.get(PUBLIC_URL_ENV) or (file.public_url if file else None)
    return (chosen or DEFAULT_PUBLIC_URL).rstrip("/")


def to_yaml(rules: list[Rule]) -> str:
    """Rules as an alerts.yaml document (to copy a rule made on the page into git)."""
    return yaml.safe_dump({"rules": [r.definition() for r in rules]}, sort_keys=False,
                          allow_unicode=True)
