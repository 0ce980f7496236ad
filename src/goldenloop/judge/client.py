"""One judge call against any OpenAI-compatible endpoint, with everything that can go wrong.

- **Endpoint.** The ``openai`` client with a base URL (given, or read from the environment
  variable the judge names, ``OPENAI_BASE_URL`` by default) and the key read from the
  variable the judge names (``OPENAI_API_KEY``): OpenAI, Azure OpenAI's v1 endpoint, vLLM,
  Ollama and LiteLLM all work. The key is never stored, logged or shown.
- **Structured output, with a fallback chain.** JSON schema first; an endpoint that rejects
  it (HTTP 400 naming the response format) gets a JSON object request, then plain text, and
  the client remembers the mode that worked. Text answers are read by ``verdict.parse_answer``.
- **Retries.** 429 waits for Retry-After (or ``retry-after-ms``), else backs off
  exponentially with jitter; 5xx, timeouts and dropped connections back off and retry; other
  4xx fail at once. The openai client's own retries are off, so each attempt is seen, priced
  and recorded as a span.
- **Budget.** Each attempt reserves its most possible cost first (see ``budget``).
- **Failures** (refusal, unparseable answer, timeout, HTTP error) come back with the raw answer.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported on first use: loading openai cost every command about 0.5 s of CPU
    import openai

from goldenloop.judge.budget import Budget, Price
from goldenloop.judge.config import Endpoint, JudgeError, LoadedJudge
from goldenloop.judge.verdict import Unparseable, Verdict, parse_answer

MODES = ("json_schema", "json_object", "text")
MAX_WAIT_S = 60.0
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|structured|schema", re.I)
_REFUSAL = re.compile(r"^\W*(?:i'?m sorry|sorry|i\s+(?:can(?:no|')t|am unable|won't))", re.I)


@dataclass
class Attempt:
    """One HTTP attempt, as the span recorded for it."""
    started: datetime
    latency_ms: float
    status: str                    # ok, error, timeout
    mode: str
    http_status: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    model_version: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None
    output: str | None = None


@dataclass
class Outcome:
    verdict: Verdict | None = None
    failure: str | None = None     # refusal, unparseable, timeout, rate_limited, http_error, ...
    message: str | None = None
    raw: str | None = None
    mode: str | None = None
    model_version: str | None = None
    cost_usd: float = 0.0
    budget_stop: bool = False      # not run: the budget would have been passed
    from_cache: bool = False
    attempts: list[Attempt] = field(default_factory=list)


@dataclass
class Retry:
    max_attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 20.0

    def backoff(self, attempt: int) -> float:
        return min(self.cap_s, self.base_s * 2 ** attempt) * random.uniform(0.5, 1.0)


def make_openai(endpoint: Endpoint) -> openai.OpenAI:
    import openai

    base = endpoint.base_url or os.environ.get(endpoint.base_url_env) or None
    key = os.environ.get(endpoint.api_key_env)
    if not key:
        if base is None:
            raise JudgeError(f"set {endpoint.api_key_env} to your API key, or point "
                             f"{endpoint.base_url_env} at a local OpenAI-compatible endpoint")
        key = "not-needed"  # local endpoints (vLLM, Ollama) take any key
    return openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=endpoint.timeout_s)


class JudgeClient:
    """Calls one judge; thread-safe (one openai client, many threads)."""

    def __init__(self, judge: LoadedJudge, *, price: Price | None, budget: Budget,
                 retry: Retry | None = None, client: openai.OpenAI | None = None):
        self.judge, self.price, self.budget = judge, price, budget
        self.retry = retry or Retry()
        self.client = client or make_openai(judge.judge.endpoint)
        self._mode = 0
        self._lock = threading.Lock()

    @property
    def mode(self) -> str:
        return MODES[self._mode]

    @property
    def max_tokens(self) -> int:
        # Subclasses that call for plain answers (experiment targets) say their own.
        return self.judge.judge.max_tokens

    def _downgrade(self, from_mode: int) -> bool:
        with self._lock:
            if self._mode == from_mode and self._mode < len(MODES) - 1:
                self._mode += 1
            return self._mode > from_mode

    def _request(self, mode: str, messages: list[dict[str, str]]) -> dict[str, Any]:
        j = self.judge.judge
        req: dict[str, Any] = {"model": j.model, "messages": messages,
                               "temperature": j.temperature, "max_tokens": j.max_tokens}
        if mode == "json_schema":
            req["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "verdict", "strict": True, "schema": self.judge.output_schema}}
        elif mode == "json_object":
            req["response_format"] = {"type": "json_object"}
        return req

    def call(self, messages: list[dict[str, str]]) -> Outcome:
        out = Outcome()
        tries = 0
        while tries < self.retry.max_attempts:
            mode_index = self._mode
            mode = MODES[mode_index]
            most = self.price.most(messages, self.max_tokens) if self.price else 0.0
            if not self.budget.reserve(most):
                out.budget_stop, out.failure = True, None
                return out
            wait = self._attempt(out, mode, messages, most)
            if out.verdict is not None or (out.failure and wait is None):
                return out
            if wait == "fallback":
                if self._downgrade(mode_index):
                    continue  # a format the endpoint lacks is not a failed try
                return out
            tries += 1
            if tries < self.retry.max_attempts:
                time.sleep(wait if isinstance(wait, float) else self.retry.backoff(tries - 1))
        return out

    def _attempt(self, out: Outcome, mode: str, messages: list[dict[str, str]],
                 most: float) -> float | str | None:
        """One HTTP attempt; returns None when done (verdict or final failure), "fallback"
        for an unsupported response format, a float to wait that long, "" to back off."""
        started = datetime.now(UTC).replace(tzinfo=None)
        t0 = time.perf_counter()
        att = Attempt(started, 0.0, "error", mode)
        out.attempts.append(att)
        import openai

        try:
            resp = self.client.chat.completions.create(**self._request(mode, messages))
        except openai.APITimeoutError as exc:
            # The endpoint may have billed a call we gave up on: count it at its most.
            self.budget.settle(most, most)
            out.cost_usd += most
            return self._failed(out, att, t0, "timeout", exc, retry="")
        except openai.APIConnectionError as exc:
            self.budget.settle(most, 0.0)
            return self._failed(out, att, t0, "connection", exc, retry="")
        except openai.APIStatusError as exc:
            self.budget.settle(most, 0.0)
            return self._status_error(out, att, t0, exc, mode)
        att.latency_ms = (time.perf_counter() - t0) * 1000
        return self._answered(out, att, resp, most)

    def _status_error(self, out: Outcome, att: Attempt, t0: float, exc: openai.APIStatusError,
                      mode: str) -> float | str | None:
        code = exc.status_code
        att.http_status = code
        if code == 400 and mode != "text" and _FORMAT_WORDS.search(_body(exc)):
            return self._failed(out, att, t0, "format_unsupported", exc, retry="fallback")
        if code == 429:
            return self._failed(out, att, t0, "rate_limited", exc, retry=_retry_after(exc))
        if code >= 500 or code == 408:
            return self._failed(out, att, t0, "http_error", exc, retry="")
        return self._failed(out, att, t0, "http_error", exc, retry=None)

    def _failed(self, out: Outcome, att: Attempt, t0: float, kind: str, exc: Exception,
                retry: float | str | None) -> float | str | None:
        att.latency_ms = (time.perf_counter() - t0) * 1000
        att.status = "timeout" if kind == "timeout" else "error"
        att.error_type = type(exc).__name__
        att.error_message = str(exc)[:2000]
        out.failure, out.message = kind, f"{type(exc).__name__}: {str(exc)[:500]}"
        out.raw = _body(exc) or None
        return retry

    def _answered(self, out: Outcome, att: Attempt, resp: Any, most: float) -> None:
        choice = resp.choices[0] if resp.choices else None
        msg = choice.message if choice else None
        usage = resp.usage
        att.input_tokens = getattr(usage, "prompt_tokens", None)
        att.output_tokens = getattr(usage, "completion_tokens", None)
        details = getattr(usage, "prompt_tokens_details", None)
        att.cached_tokens = getattr(details, "cached_tokens", None) if details else None
        cost = self.price.cost(att.input_tokens or 0, att.output_tokens or 0,
                               att.cached_tokens or 0) if self.price and usage else None
        self.budget.settle(most, cost or 0.0)
        out.cost_usd += cost or 0.0
        att.cost_usd, att.status, att.model_version = cost, "ok", resp.model
        att.finish_reason = choice.finish_reason if choice else None
        content = msg.content if msg else None
        refusal = getattr(msg, "refusal", None) if msg else None
        att.output = content or refusal
        out.mode, out.model_version, out.raw = att.mode, resp.model, content or refusal
        out.failure = out.message = None
        if refusal or att.finish_reason == "content_filter":
            out.failure, out.message = "refusal", "the judge refused to answer"
            return None
        self._read(out, content)
        return None

    def _read(self, out: Outcome, content: str | None) -> None:
        """Turn the answer's text into ``out.verdict`` or a failure (a subclass that wants
        the text itself, an experiment target, overrides this)."""
        try:
            out.verdict = parse_answer(content, self.judge.criterion, self.judge.judge.kind)
        except Unparseable as exc:
            kind = "refusal" if content and _REFUSAL.search(content) else "unparseable"
            out.failure, out.message = kind, str(exc)


def _body(exc: Exception) -> str:
    resp = getattr(exc, "response", None)
    try:
        return resp.text if resp is not None else ""
    except Exception:  # a streamed or closed body has no text: nothing more to keep
        return ""


def _retry_after(exc: openai.APIStatusError) -> float | str:
    headers = exc.response.headers if exc.response is not None else {}
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return min(MAX_WAIT_S, max(0.0, float(ms) / 1000))
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return ""
    try:
        return min(MAX_WAIT_S, max(0.0, float(value)))
    except ValueError:
        pass
    try:  # an HTTP date
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return ""
    return min(MAX_WAIT_S, max(0.0, (when - datetime.now(when.tzinfo or UTC)).total_seconds()))


def raw_json(outcome: Outcome) -> str:
    return json.dumps({"raw": outcome.raw, "mode": outcome.mode}, ensure_ascii=False)
