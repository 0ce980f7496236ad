"""The labelled set of the redaction recall test: personal strings of each kind and ordinary
strings that must come back unchanged, and the recall of the detectors on them."""

from __future__ import annotations

import random
import string

import phonenumbers

from goldenloop.ingest.redact import PHONE_REGIONS, redact_text

RNG = random.Random(13)


TEMPLATES = ("Contact: {}.", "please use {} for this", "{}", "(see {}) and thanks!",
             "Le client a écrit « {} » hier.")


def _rand(alphabet: str, n: int) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


A62 = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


def _luhn_complete(prefix: str, length: int) -> str:
    """A card number starting with ``prefix`` whose last digit makes the Luhn sum 0 mod 10
    (computed here, independently of the redactor's check)."""
    body = prefix + "".join(RNG.choice(string.digits) for _ in range(length - len(prefix) - 1))
    digits = [int(c) for c in body]
    total = 0
    for i, d in enumerate(reversed(digits)):  # the check digit will sit right of these
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def emails() -> list[str]:
    out = ["jane.doe@example.com", "j.doe+billing@mail.example.co.uk", "ADMIN@EXAMPLE.ORG",
           "first_last-99@sub.domain.io", "x@y.museum", "o'brien@example.ie",
           "user%tag@example.net", "müller@example.de"]
    for _ in range(22):
        out.append(f"{_rand(string.ascii_lowercase, 6)}.{_rand(string.digits, 2)}@"
                   f"{_rand(string.ascii_lowercase, 7)}.{RNG.choice(['com', 'fr', 'dev', 'co.jp'])}")
    return out


PHONE_COUNTRIES = ("US", "CA", "GB", "IE", "DE", "FR", "ES", "IT", "NL", "BE", "CH", "AT", "SE",
                   "NO", "DK", "FI", "PL", "CZ", "PT", "GR", "TR", "RU", "UA", "IN", "PK", "BD",
                   "CN", "JP", "KR", "SG", "HK", "AU", "NZ", "BR", "AR", "MX", "CO", "ZA", "NG",
                   "EG")


def phones() -> dict[str, list[str]]:
    """Numbers built from each country's example mobile and fixed-line numbers, in the
    international and the national format; plus common hand-written US and UK shapes."""
    intl, national = [], []
    for region in PHONE_COUNTRIES:
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            n = phonenumbers.example_number_for_type(region, kind)
            if n is None:
                continue
            intl.append(phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.INTERNATIONAL))
            intl.append(phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164))
            national.append((region, phonenumbers.format_number(
                n, phonenumbers.PhoneNumberFormat.NATIONAL)))
    hand = ["+1 (415) 555-0100", "(415) 555-0100", "415-555-0100", "415.555.0100",
            "+1-212-555-0147", "1 (800) 555-0199", "+44 (0)20 7946 0958", "020 7946 0958",
            "07700 900123", "+49 (0)30 1234567", "+33 1 23 45 67 89", "+91-98765-43210"]
    in_regions = [p for r, p in national if r in PHONE_REGIONS]
    elsewhere = [p for r, p in national if r not in PHONE_REGIONS]
    return {"phone, international": intl, "phone, national (listed regions)": in_regions,
            "phone, national (other regions)": elsewhere, "phone, hand-written": hand}


def keys() -> list[str | tuple[str, str]]:
    return [
        "sk-" + _rand(A62, 20) + "T3BlbkFJ" + _rand(A62, 20),                      # OpenAI, old
        "sk-proj-" + _rand(A62 + "-_", 64),                                        # OpenAI project
        "sk-svcacct-" + _rand(A62 + "-_", 60),                                     # OpenAI service
        "sk-ant-api03-" + _rand(A62 + "-_", 93) + "AA",                            # Anthropic
        "AIza" + _rand(A62 + "-_", 35),                                            # Google
        "AKIA" + _rand(string.ascii_uppercase + string.digits, 16),                # AWS key id
        "ghp_" + _rand(A62, 36),                                                   # GitHub
        "github_pat_" + _rand(A62, 22) + "_" + _rand(A62, 59),                     # GitHub fine
        "glpat-" + _rand(A62 + "-_", 20),                                          # GitLab
        "xoxb-" + _rand(string.digits, 12) + "-" + _rand(string.digits, 13) + "-" + _rand(A62, 24),
        "sk_live_" + _rand(A62, 24),                                               # Stripe
        "rk_live_" + _rand(A62, 24),
        "SG." + _rand(A62 + "-_", 22) + "." + _rand(A62 + "-_", 43),               # SendGrid
        "SK" + _rand(HEX, 32),                                                     # Twilio
        "hf_" + _rand(A62, 34),                                                    # Hugging Face
        _rand(HEX, 32) + "-us12",                                                  # Mailchimp
        "npm_" + _rand(A62, 36),                                                   # npm
        "pypi-AgEIcHlwaS5vcmc" + _rand(A62 + "-_", 70),                            # PyPI
        "gsk_" + _rand(A62, 52),                                                   # Groq
        "xai-" + _rand(A62, 80),                                                   # xAI
        "r8_" + _rand(A62, 37),                                                    # Replicate
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        + _rand(A62 + "-_", 43),                                                   # JWT
        "Bearer " + _rand(A62 + "._-", 40),
        ("api_key=", _rand(HEX, 32)),                  # the name stays: only the value counts
        ("password: ", _rand(A62, 14)),
        ("AWS_SECRET_ACCESS_KEY=", _rand(A62 + "+/", 40)),
        "AccountKey=" + _rand(A62 + "+/", 86) + "==",                              # Azure storage
        _rand(string.digits, 10) + ":" + "AA" + _rand(A62 + "-_", 33),             # Telegram
    ]


def ips() -> list[str]:
    out = ["203.0.113.7", "192.168.1.20", "10.0.0.1", "8.8.8.8", "172.16.254.3",
           "2001:db8::8a2e:370:7334", "fe80::1ff:fe23:4567:890a", "2001:0db8:85a3:0000:0000:"
           "8a2e:0370:7334", "::ffff:192.0.2.128"]
    out += [".".join(str(RNG.randint(1, 254)) for _ in range(4)) for _ in range(11)]
    return out


def cards() -> list[str]:
    out = []
    for prefix, length in (("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15),
                           ("37", 15), ("6011", 16), ("35", 16), ("36", 14), ("4", 13)):
        n = _luhn_complete(prefix, length)
        out.append(n)
        out.append(" ".join(n[i:i + 4] for i in range(0, len(n), 4)))
        out.append("-".join(n[i:i + 4] for i in range(0, len(n), 4)))
    return out


NEGATIVES = [
    "2024-01-15", "15/01/2024", "Jan 15, 2024", "2024-01-15T10:30:00Z", "12:30:45", "10:30 am",
    "v1.2.3", "2.0.1", "version 10.0.19045.2965", "python 3.11.7", "gpt-4o-2024-08-06",
    "claude-3-5-sonnet-20241022", "$1,299.99", "€ 45,00", "12.5%", "3.14159", "1,000,000",
    "order #12345", "ticket 48151", "room 1204", "ZIP 94103", "in 1999", "HTTP 404",
    "status 200 OK", "550e8400-e29b-41d4-a716-446655440000", "d41d8cd98f00b204e9800998ecf8427e",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8", "trace 4bf92f3577b34da6a3ce929d0e0e4736",
    "#FF5733", "37.7749, -122.4194", "2 + 2 = 4", "x = 42", "def f(x): return x + 1",
    "risk-averse desk-top task-oriented", "the api key is in the vault", "reset your password",
    "password reset link sent", "ISBN 978-3-16-148410-0", "page 12 of 40", "3 x 4 = 12",
    "chapter 11.2.3", "latency 1234 ms", "tokens: 4096", "temperature=0.7", "max_tokens=1024",
    "top_p: 0.95", "seed 42", "1e-5", "0.0.0", "255.255.255", "IPv4 and IPv6 addresses",
    "call me at noon", "phone", "email me", "user@", "@mention", "name@domain",
    "https://example.com/docs/page?id=7", "/var/log/app.log", "C:\\Users\\me", "SELECT 1",
    "sk-learn is a library", "The AIza prefix marks Google keys", "a 16-digit card number",
    "batch 2024/05", "5 min", "week 23", "rows 1-20", "2023–2024 season", "+5 points",
    "score 9/10", "1:1 meeting", "Q3 2024", "24/7 support", "pH 7.4", "7 days", "1080p",
]


def _detected(pii: str, text: str) -> bool:
    """True when no 8-character piece of ``pii`` (the whole of a shorter one) is left."""
    w = min(8, len(pii))
    return not any(pii[i:i + w] in text for i in range(len(pii) - w + 1))


def recall(items: list) -> tuple[float, list[str]]:
    """Items are strings, or (name, value) pairs where only the value is personal."""
    missed = []
    for i, item in enumerate(items):
        name, pii = item if isinstance(item, tuple) else ("", item)
        text = TEMPLATES[i % len(TEMPLATES)].format(name + pii)
        if not _detected(pii, redact_text(text)):
            missed.append(pii)
    return 1 - len(missed) / len(items), missed
