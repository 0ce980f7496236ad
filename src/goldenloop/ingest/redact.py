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
documents are masked value by value, so they stay valid JSON. Names and postal addresses are
not detected (that needs a language model). How an import applies this, and pseudonyms for
ids: ``redact_import``. Recall: docs/operator.md, "Redaction"; cost: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import ipaddress
import json
import re
from functools import cache, lru_cache

import phonenumbers

# Where national phone formats (no +country code) are recognised, most likely first.
PHONE_REGIONS = ("US", "GB", "IN", "DE", "FR", "BR", "JP", "AU", "ES", "IT", "MX", "NL", "CN")

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
    r"\bgsk_[A-Za-z0-9]{20,}", r"\bxai-[A-Za-z0-9]{20,}", r"\br8_[A-Za-z0-9]{20,}",
    r"\bpplx-[A-Za-z0-9]{20,}", r"\bpk_live_[A-Za-z0-9]{20,}",
    r"\b[Bb]earer\s+[A-Za-z0-9._~+/-]{20,}=*",
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
# What each detector needs to find anything, in syntax both RE2 (Arrow, at import: a whole
# batch tested in C++) and Python's re accept. A text none of them matches is left alone.
GATES = (
    ("secret", r"\S{16}|PRIVATE KEY"),  # every key shape has 16 characters without a space
    ("keyword", r"(?i:key|pass|pwd|secret|contrase)[^\s:=]*\s*[:=]"),
    ("email", r"@"),
    ("ipv4", r"\d\.\d{1,3}\.\d"),
    ("ipv6", r"::|[0-9A-Fa-f]:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]"),
    ("number", r"\d(?:\D{0,3}\d){7}"),  # cards and phone numbers have 8 digits or more
)
_PY_GATES = tuple(re.compile(p) for _, p in GATES)
ANY_GATE = "|".join(f"(?:{p})" for _, p in GATES)
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
def _secret_checks() -> tuple[tuple[re.Pattern, tuple[str, ...] | None, bool], ...]:
    """Each secret pattern with words one of which any match must contain (read from the
    pattern itself), so a pattern is tried only on texts that hold one: the patterns that
    open with a look-behind or a class cost a scan of the whole text each."""
    out = []
    for rx in _secret_patterns():
        nocase = bool(rx.flags & re.IGNORECASE)
        words = _required_words(rx.pattern, rx.flags)
        if "(?:key|pwd|" in rx.pattern and (words is None or min(map(len, words)) < 3):
            # detect-secrets' assignment-style detectors (IBM, Cloudant, SoftLayer): a match
            # names a key, password or token.
            words, nocase = ("key", "pw", "pass", "token"), True
        out.append((rx, tuple(w.lower() for w in words) if words and nocase else words, nocase))
    return tuple(out)


def _required_words(pattern: str, flags: int) -> tuple[str, ...] | None:
    """The most selective set of words one of which every match contains: a run of literal
    characters at the pattern's top level, or a group of literal alternatives (``(?:a|b)``).
    None when there is none (or the pattern is beyond this simple reading)."""
    from re import _constants as c
    from re import _parser

    try:
        items = list(_parser.parse(pattern, flags))
    except Exception:  # a pattern this reading does not follow: always try it
        return None
    options: list[tuple[str, ...]] = []
    run: list[str] = []
    for op, arg in [*items, (None, None)]:
        if op is c.LITERAL:
            run.append(chr(arg))
            continue
        if len(run) >= 2:
            options.append(("".join(run),))
        run = []
        if op is c.SUBPATTERN and len(arg[-1]) == 1 and arg[-1][0][0] is c.BRANCH:
            alternatives = [_literal(alt) for alt in arg[-1][0][1][1]]
            if all(alternatives):
                options.append(tuple(alternatives))
    return max(options, key=lambda o: min(map(len, o)), default=None)


def _literal(items) -> str:
    from re import _constants as c

    ops = list(items)
    return "".join(chr(a) for _, a in ops) if ops and all(o is c.LITERAL for o, _ in ops) else ""


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

    Each detector runs only when the text has what it needs (``GATES``): plain prose costs a
    few scans."""
    if not text:
        return text
    return redact_with_gates(text, tuple(bool(g.search(text)) for g in _PY_GATES))


def redact_with_gates(text: str, gates: tuple[bool, ...]) -> str:
    """``text`` masked, given which of ``GATES`` it matches (an import tests a whole batch in
    Arrow and passes the answers here)."""
    if not any(gates):
        return text
    if len(text) <= 2000:
        return _redact_short(text, gates)
    return _detect(text, gates)


@lru_cache(maxsize=16384)  # system prompts and canned answers repeat; at most ~64 MB kept
def _redact_short(text: str, gates: tuple[bool, ...]) -> str:
    return _detect(text, gates)


def _detect(text: str, gates: tuple[bool, ...]) -> str:
    secret, keyword, email, ipv4, ipv6, number = gates
    out = text
    if secret:
        lower = out.lower()
        for pattern, words, nocase in _secret_checks():
            if words is not None:
                hay = lower if nocase else out
                for w in words:  # a plain loop: this runs ~50 times per text
                    if w in hay:
                        break
                else:
                    continue
            out = pattern.sub("[API_KEY]", out)
    if keyword:
        out = _keyword_pattern().sub(r"\1[API_KEY]", out)
    if email:
        out = _email_pattern().sub("[EMAIL]", out)
    if ipv4:
        out = _IPV4.sub(_ipv4, out)
    if ipv6:
        out = _IPV6.sub(_ipv6, out)
    if number:
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
    masked = _walk(doc)
    return text if masked == doc else json.dumps(masked, ensure_ascii=False)


def _walk(value):
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [_walk(v) for v in value]
    if isinstance(value, dict):
        # {"api_key": "..."}: the name says what the value is, whatever its shape.
        return {k: "[API_KEY]" if isinstance(v, str) and v and _secret_name().fullmatch(k)
                else _walk(v) for k, v in value.items()}
    return value


@cache
def _secret_name() -> re.Pattern:
    from detect_secrets.plugins.keyword import DENYLIST

    return re.compile(rf"(?i)\w*(?:{'|'.join(DENYLIST)})\w*")
