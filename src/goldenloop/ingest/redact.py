"""Optional redaction at import of e-mail addresses, phone numbers and API-key-like strings.

Applied in SQL to the text fields of every row of an import (off by default), so nothing
sensitive reaches the store when it is on.
"""

from __future__ import annotations

# (pattern, replacement); RE2 syntax as DuckDB's regexp_replace uses.
PATTERNS: tuple[tuple[str, str], ...] = (
    (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "[EMAIL]"),
    # API keys: OpenAI/Anthropic style, AWS access keys, GitHub and Slack tokens, bearer tokens.
    (r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}", "[API_KEY]"),
    (r"\bAKIA[0-9A-Z]{16}\b", "[API_KEY]"),
    (r"\b(?:ghp|gho|ghs|github_pat)_[A-Za-z0-9_]{20,}", "[API_KEY]"),
    (r"\bxox[abprs]-[A-Za-z0-9-]{10,}", "[API_KEY]"),
    (r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{20,}=*", "Bearer [API_KEY]"),
    # Phone numbers: an optional +country code, then 9+ digits with common separators.
    (r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{2,4}[\s.-]\d{3,4}[\s.-]\d{3,4}\b", "[PHONE]"),
)

REDACTED_FIELDS = (
    "messages", "system_prompt", "last_user_message", "output", "retrieved_context",
    "tool_calls", "error_message",
)


def redact_expr(expr: str) -> str:
    out = expr
    for pattern, repl in PATTERNS:
        p = pattern.replace("'", "''")
        out = f"regexp_replace({out}, '{p}', '{repl}', 'g')"
    return out


def redaction_templates() -> dict[str, str]:
    """Field → SQL template wrapping ``{expr}`` (JSON fields are redacted as text, then re-typed)."""
    out = {}
    for f in REDACTED_FIELDS:
        if f in ("messages", "retrieved_context", "tool_calls"):
            out[f] = "CAST(" + redact_expr("CAST({expr} AS VARCHAR)") + " AS JSON)"
        else:
            out[f] = redact_expr("{expr}")
    return out
