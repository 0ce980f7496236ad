"""The judge's answer: its JSON schema (derived from the criterion), and reading an answer —
strict JSON, JSON inside prose, or a bare "score: 4" — into a verdict checked against the
criterion. An answer that cannot be read raises ``Unparseable`` carrying the raw text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from goldenloop import rubric as rubrics
from goldenloop.review.answers import Answer, GradeError, value_columns

PAIR_VERDICTS = ("A", "B", "tie")
_JSON_BLOCK = re.compile(r"\{.*\}", re.S)
_SCORE_TEXT = re.compile(r"\b(?:score|rating|grade)\b\W{0,3}(-?\d+(?:\.\d+)?)", re.I)


class Unparseable(Exception):
    """An answer with no readable verdict."""


@dataclass(frozen=True)
class Verdict:
    value: Any                 # score (number), label, bool, or A/B/tie
    reason: str | None


def answer_field(c: rubrics.Criterion, kind: str) -> str:
    if kind == "pairwise":
        return "verdict"
    if c.type == "boolean":
        return "pass"
    if c.scale is not None:
        return "score"
    return "label"


def output_schema(c: rubrics.Criterion, kind: str, reason: bool) -> dict[str, Any]:
    """A JSON schema valid for OpenAI's strict structured output (every property required,
    no additional properties)."""
    field = answer_field(c, kind)
    if field == "verdict":
        prop: dict[str, Any] = {"type": "string", "enum": list(PAIR_VERDICTS)}
    elif field == "pass":
        prop = {"type": "boolean"}
    elif field == "score":
        integer = c.type == "ordinal"
        prop = {"type": "integer" if integer else "number",
                "description": f"from {c.scale[0]:g} to {c.scale[1]:g}"}
    else:
        prop = {"type": "string", "enum": c.label_names}
    props = {field: prop}
    if reason:
        props = {"reason": {"type": "string", "description": "one or two sentences"}, **props}
    return {"type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}


def parse_answer(text: str | None, c: rubrics.Criterion, kind: str) -> Verdict:
    """Read ``text`` (the model's message) into a checked verdict, or raise Unparseable."""
    if not text or not text.strip():
        raise Unparseable("empty answer")
    field = answer_field(c, kind)
    obj = _json_object(text)
    if obj is not None:
        if field not in obj:
            raise Unparseable(f"the answer has no {field!r}")
        value, reason = obj[field], obj.get("reason")
    else:
        value, reason = _from_prose(text, c, field), None
    value = _checked(value, c, field)
    return Verdict(value, str(reason)[:2000] if reason is not None else None)


def _json_object(text: str) -> dict | None:
    for candidate in (text.strip(), *(m.group(0) for m in [_JSON_BLOCK.search(text)] if m)):
        try:
            obj = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(obj, dict):
            return obj
    return None


def _from_prose(text: str, c: rubrics.Criterion, field: str) -> Any:
    if field == "score":
        m = _SCORE_TEXT.search(text)
        if m:
            return float(m.group(1))
    elif field == "verdict":
        m = re.search(r"\b(?:verdict|winner|better)\b\W{0,3}(A|B|tie)\b", text, re.I)
        if m:
            return m.group(1)
    elif field == "pass":
        m = re.search(r"\bpass\b\W{0,3}(true|false|yes|no)\b", text, re.I)
        if m:
            return m.group(1).lower() in ("true", "yes")
    else:
        m = re.search(r"\blabel\b\W{0,3}(.+)", text, re.I)
        if m:
            return m.group(1).strip().strip("\"'.")
    raise Unparseable("no JSON object and no recognisable verdict in the answer")


def _checked(value: Any, c: rubrics.Criterion, field: str) -> Any:
    if field == "verdict":
        v = str(value).strip()
        match = {p.lower(): p for p in PAIR_VERDICTS}.get(v.lower())
        if match is None:
            raise Unparseable(f"verdict {value!r} is not one of A, B, tie")
        return match
    if field == "pass" and not isinstance(value, bool):
        raise Unparseable(f"pass {value!r} is not true or false")
    if field == "score" and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise Unparseable(f"score {value!r} is not a number") from None
    try:
        value_columns(c, Answer(value=value))
    except GradeError as exc:
        raise Unparseable(str(exc)) from None
    return value


def grade_values(c: rubrics.Criterion, kind: str, value: Any) -> dict[str, Any]:
    """The grade columns of a verdict (pairwise A/B/tie → the rubric's preference labels)."""
    if kind == "pairwise":
        value = dict(zip(PAIR_VERDICTS, rubrics.PREFERENCE_LABELS, strict=True))[value]
    return value_columns(c, Answer(value=value))
