"""Redaction at import (``--redact``): personal data and secrets masked before anything is
stored, and user and session ids replaced by stable pseudonyms.

What finds what, and why not one hand-grown regex each:
- phone numbers: loose candidates (8+ digits with the usual separators), each checked by
  ``phonenumbers`` (Google's libphonenumber metadata): with a ``+`` country code for any
  country, without one for the national formats of ``PHONE_REGIONS``;
- secrets: the patterns of ``detect-secrets`` (Yelp; AWS, GitHub, GitLab, Slack, Stripe,
  SendGrid, Twilio, JWT, private keys, ... and its list of secret-sounding keywords for
  ``api_key=...`` / ``password: ...``), plus the LLM-provider key shapes it lacks
  (OpenAI project keys, Anthropic, Google ``AIza``, Hugging Face, Groq, xAI, Replicate);
- card numbers: 13-19 digits passing the Luhn check; IP addresses: checked by ``ipaddress``;
  e-mail addresses: one pattern.

Texts are masked with ``[EMAIL]``, ``[PHONE]``, ``[API_KEY]``, ``[CARD]``, ``[IP]``; JSON
fields are masked value by value, so they stay valid JSON. ``user_id`` and ``session_id``
become ``anon-`` plus 16 hex digits of an HMAC-SHA256 under a key kept beside the database
(or ``GOLDENLOOP_REDACT_KEY``): the same id always gets the same pseudonym, so conversations
still group, and without the key it cannot be looked up from a list of ids. Names and postal
addresses are not detected (that needs a language model). Recall and cost: README, "Privacy".
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets as _secrets
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import phonenumbers
import pyarrow as pa

if TYPE_CHECKING:
    from goldenloop.store import Store

# Where national phone formats (no +country code) are recognised, most likely first.
PHONE_REGIONS = ("US", "GB", "IN", "DE", "FR", "BR", "JP", "AU", "ES", "IT", "MX", "NL", "CN")
KEY_ENV = "GOLDENLOOP_REDACT_KEY"

TEXT_FIELDS = ("system_prompt", "last_user_message", "output", "error_message")
JSON_FIELDS = ("messages", "retrieved_context", "tool_calls", "metadata")
ID_FIELDS = ("user_id", "session_id")

_EMAIL = r"[\w.%+'-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}"  # \w: any script's letters
# LLM-provider key shapes detect-secrets does not know (its OpenAI pattern is the old format).
_PROVIDER_KEYS = (
    r"\bsk-(?:proj-|svcacct-|admin-|ant-[a-z]+\d*-)?[A-Za-z0-9_-]{20,}",
    r"\bAIza[0-9A-Za-z_-]{35}",
    r"\bhf_[A-Za-z0-9]{30,}",
    r"\bgithub_pat_[A-Za-z0-9_]{22,}",
    r"\bnpm_[A-Za-z0-9]{36}",
    # A whole JSON Web Token: detect-secrets' pattern stops before the signature.
    r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
    r"\b(?:gsk|xai|r8|pplx|sk_live|rk_live|pk_live)[-_][A-Za-z0-9]{20,}",
    r"(?i:\bbearer)\s+[A-Za-z0-9._~+/-]{20,}=*",
)
# The patterns below start with what they match (no look-behind first), so the regex engine
# skips ahead to a candidate character; the boundary checks are made in Python on the few
# candidates (``_bounded``).
_CARD = re.compile(r"\d(?:[ -]?\d){12,18}")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_IPV6 = re.compile(r"(?:[0-9A-Fa-f]{1,4}|:)(?::[0-9A-Fa-f]{0,4}){2,7}")
# Phone candidates: an optional +country code, then digit groups with spaces, dots, dashes or
# parentheses; dates and times are not numbers anyone calls.
_PHONE = re.compile(r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d[\d\s.-]{5,16}\d")
_LONG_TOKEN = re.compile(r"\S{16,}")  # every secret shape has one (keys, tokens, URLs with auth)
_DIGITS_8 = re.compile(r"\d(?:\D{0,3}\d){7}")
_IPV4_HINT = re.compile(r"\d\.\d{1,3}\.\d")
_IPV6_HINT = re.compile(r"::|[0-9A-Fa-f]:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]")
_KEYWORD_HINTS = ("key", "pass", "pwd", "secret", "contrase")  # in every name of the list
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}")


@cache
def _secret_patterns() -> tuple[re.Pattern, ...]:
    """detect-secrets' detectors' patterns, with the provider shapes above. Kept apart rather
    than joined: each one then searches for its literal prefix, several times faster than one
    alternation tried at every position."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    out = [re.compile(p) for p in _PROVIDER_KEYS]
    for plugin in get_mapping_from_secret_type_to_class().values():
        if issubclass(plugin, RegexBasedDetector) and plugin.__name__ != "IPPublicDetector":
            out.extend(plugin().denylist)
    return tuple(out)


@cache
def _keyword_pattern() -> re.Pattern:
    """A secret-sounding name from detect-secrets' keyword list, then ``:`` or ``=``, then the
    value up to a space, quote or separator: the value is masked, the name kept."""
    from detect_secrets.plugins.keyword import DENYLIST

    names = "|".join(DENYLIST)
    return re.compile(rf"(?i)((?:{names})\w*[\"']?\s*[:=]\s*[\"']?)"
                      r"[^\s\"'\\,;&<>(){}\[\]]{6,}")


@lru_cache(maxsize=65536)
def _is_phone(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    if digits < 8 or digits > 15 or _DATE.fullmatch(candidate.strip()):
        return False
    regions = (None,) if candidate.lstrip().startswith("+") else PHONE_REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _bounded(m: re.Match, inside: str) -> bool:
    """False when the match continues a longer word or number: a letter or digit right
    beside it, or a character of ``inside`` with a letter or digit beyond (``1.5`` goes on,
    a full stop ending the sentence does not)."""
    text, a, b = m.string, m.start(), m.end()
    if a > 0 and (text[a - 1].isalnum()
                  or (text[a - 1] in inside and a > 1 and text[a - 2].isalnum())):
        return False
    return not (b < len(text) and (text[b].isalnum() or (
        text[b] in inside and b + 1 < len(text) and text[b + 1].isalnum())))


def _card(m: re.Match) -> str:
    digits = re.sub(r"\D", "", m.group())
    ok = _bounded(m, ".") and 13 <= len(digits) <= 19 and _luhn(digits)
    return "[CARD]" if ok else m.group()


def _ipv4(m: re.Match) -> str:
    if not _bounded(m, "."):
        return m.group()
    try:
        ipaddress.IPv4Address(m.group())
    except ValueError:
        return m.group()
    return "[IP]"


def _ipv6(m: re.Match) -> str:
    text = m.group()
    if not _bounded(m, ":") or sum(c in "0123456789abcdefABCDEF" for c in text) < 4:
        return text  # times (12:30:45), lone colons, parts of longer words
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return text
    return "[IP]"


def _phone(m: re.Match) -> str:
    text = m.group()
    # "-20241022" in a model name or "/0100" in a path is part of something else.
    return "[PHONE]" if _bounded(m, "+-./_") and _is_phone(text) else text


def redact_text(text: str) -> str:
    """``text`` with e-mail addresses, secrets, card numbers, IPs and phone numbers masked.

    Each detector runs only when the text has what it needs (a 16-character token for a
    secret, ``@`` for an e-mail, a digit for numbers): plain prose costs a few scans."""
    if not text:
        return text
    out = text
    if _LONG_TOKEN.search(out) or "PRIVATE KEY" in out:
        for pattern in _secret_patterns():
            out = pattern.sub("[API_KEY]", out)
    if ("=" in out or ":" in out) and any(k in out.lower() for k in _KEYWORD_HINTS):
        out = _keyword_pattern().sub(r"\1[API_KEY]", out)
    if "@" in out:
        out = _email_pattern().sub("[EMAIL]", out)
    if _IPV4_HINT.search(out):
        out = _IPV4.sub(_ipv4, out)
    if _IPV6_HINT.search(out):
        out = _IPV6.sub(_ipv6, out)
    if _DIGITS_8.search(out):  # cards and phone numbers have 8 digits or more
        out = _CARD.sub(_card, out)
        out = _PHONE.sub(_phone, out)
    return out


@cache
def _email_pattern() -> re.Pattern:
    return re.compile(_EMAIL)


def redact_json(text: str) -> str:
    """A JSON document with every string value masked (keys kept): it stays valid JSON."""
    try:
        doc = json.loads(text)
    except ValueError:
        return redact_text(text)
    return json.dumps(_walk(doc), ensure_ascii=False)


def _walk(value):
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [_walk(v) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v) for k, v in value.items()}
    return value


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
    key = _secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
    return key


def _arrow_udf(fn: Callable[[str], str]) -> Callable[[pa.Array], pa.Array]:
    def udf(arr: pa.Array) -> pa.Array:
        return pa.array([None if v is None else fn(v) for v in arr.to_pylist()], pa.string())
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
        for name, fn in (("gl_redact", redact_text), ("gl_redact_json", redact_json),
                         ("gl_pseudonym", lambda v: pseudonym(v, _keys[path]))):
            if name not in defined:
                con.create_function(name, _arrow_udf(fn), ["VARCHAR"], "VARCHAR", type="arrow",
                                    side_effects=False)


def redaction_templates() -> dict[str, str]:
    """Field → SQL template wrapping ``{expr}`` (needs ``register`` on the cursor first)."""
    out = {f: "gl_redact({expr})" for f in TEXT_FIELDS}
    out |= {f: "CAST(gl_redact_json(CAST({expr} AS VARCHAR)) AS JSON)" for f in JSON_FIELDS}
    out |= {f: "gl_pseudonym({expr})" for f in ID_FIELDS}
    out["tags"] = "list_transform({expr}, lambda t: gl_redact(t))"
    return out


RAW_TEMPLATE = "gl_redact({expr})"  # a quarantined row as read, and its reasons
