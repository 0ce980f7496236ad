"""Sending one notification: goldenloop's JSON payload to a webhook over HTTP, or a title and
a text through ``apprise`` (Slack, Teams, Discord, e-mail, PagerDuty, ...).

The payload is goldenloop's own and stable (``PAYLOAD_VERSION``); its keys are always
present, null when they do not apply. Channel URLs are read from the environment when sending
and never written anywhere: an error message names the channel and the failure, not the URL.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from goldenloop.alerts.evaluation import Evaluation, fmt
from goldenloop.alerts.rules import Channel, Rule, format_duration
from goldenloop.errors import GoldenloopError

PAYLOAD_VERSION = 1
TIMEOUT_S = 10.0
# apprise's notification types (its NotifyType values) by state.
_APPRISE_TYPES = {"ALERT": "failure", "WARN": "warning", "NO_DATA": "warning", "OK": "success"}


class DeliveryError(GoldenloopError):
    """A notification was not accepted (the message holds no URL)."""


def alert_link(public_url: str, rule: str) -> str:
    """The app's view of a rule's alert: the Alerts page with the rule chosen."""
    return f"{public_url.rstrip('/')}/alerts?rule={quote(rule, safe='')}"


def payload(kind: str, rule: Rule, ev: Evaluation, previous: str | None, at: datetime,
            public_url: str) -> dict[str, Any]:
    """What every channel is told about one transition (``kind``: firing, resolved, test)."""
    return {
        "version": PAYLOAD_VERSION,
        "kind": kind,
        "rule": rule.name,
        "state": ev.state,
        "previous_state": previous,
        "metric": rule.metric,
        "condition": rule.condition,
        "value": ev.value,
        "threshold": ev.threshold,
        "warn": rule.warn,
        "critical": rule.critical,
        "reference": ev.reference,
        "change": ev.change,
        "samples": ev.samples,
        "window": {"start": ev.window_start.isoformat(), "end": ev.window_end.isoformat(),
                   "length": format_duration(ev.window_end - ev.window_start)},
        "filter": rule.filter.model_dump(exclude_defaults=True),
        "reason": ev.reason,
        "at": at.isoformat(),
        "link": alert_link(public_url, rule.name),
    }


def title_and_body(p: dict[str, Any]) -> tuple[str, str]:
    """The chat message of a payload: a title and a few plain lines ending with the link."""
    if p["kind"] == "resolved":
        title = f"[RESOLVED] {p['rule']}"
    elif p["kind"] == "test":
        title = f"[TEST] {p['rule']}"
    else:
        title = f"[{p['state']}] {p['rule']}"
    value = fmt(p["metric"], p["value"])
    lines = [
        p["reason"],
        f"{p['metric']}: {value} (window {p['window']['start']} to {p['window']['end']} UTC)",
        f"state: {p['previous_state'] or 'new'} -> {p['state']}",
        f"open in goldenloop: {p['link']}",
    ]
    return title, "\n".join(lines)


def send(channel: Channel, p: dict[str, Any], timeout: float = TIMEOUT_S) -> None:
    """Deliver ``p`` to ``channel`` once; DeliveryError (or ChannelError) when it fails."""
    url = channel.resolve_url()
    if channel.type == "webhook":
        _post(channel, url, p, timeout)
    else:
        _apprise(channel, url, p)


def _post(channel: Channel, url: str, p: dict[str, Any], timeout: float) -> None:
    try:
        r = requests.post(url, json=p, timeout=timeout,
                          headers={"User-Agent": "goldenloop-alerts"})
    except requests.Timeout:
        raise DeliveryError(f"{channel.label}: no answer within {timeout:.0f} s") from None
    except requests.RequestException as exc:
        # The exception's text quotes the URL: keep only its kind.
        raise DeliveryError(f"{channel.label}: cannot connect ({type(exc).__name__})") from None
    if not 200 <= r.status_code < 300:
        raise DeliveryError(f"{channel.label}: the receiver answered HTTP {r.status_code}")


def _apprise(channel: Channel, url: str, p: dict[str, Any]) -> None:
    import apprise  # half a second to import: only when a channel uses it

    sender = apprise.Apprise()
    if not sender.add(url):
        raise DeliveryError(f"{channel.label}: apprise does not recognise the URL (see "
                            "apprise's list of services for the URL forms)")
    title, body = title_and_body(p)
    kind = apprise.NotifyType("info" if p["kind"] == "test" else _APPRISE_TYPES[p["state"]])
    with apprise.LogCapture(level=logging.WARNING) as logs:
        ok = sender.notify(body=body, title=title, notify_type=kind)
    if not ok:
        said = [ln for ln in logs.getvalue().splitlines() if ln.strip()]
        detail = _scrub(said[-1].split(" - ", 2)[-1], url) if said else "no reason given"
        raise DeliveryError(f"{channel.label}: apprise could not deliver: {detail}")


def _scrub(text: str, url: str) -> str:
    """``text`` without the URL or any of its parts (a token may sit in any of them)."""
    parts = urlsplit(url)
    pieces = [url, parts.netloc, parts.path, parts.query, parts.username or "",
              parts.password or ""] + [seg for seg in parts.path.split("/") if len(seg) > 3]
    for piece in sorted(filter(None, pieces), key=len, reverse=True):
        text = text.replace(piece, "…")
    return text[:300]
