"""A reviewer's answer to one criterion, checked against the rubric and turned into the value
columns of a grade row.

Every criterion accepts "not applicable" (no value) and a flag (unsafe or broken item, with
or without a value); neither is a score. Ordinal labels are stored as the label and its rank
(1 = first label), so estimates and agreement can treat them as numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from goldenloop.errors import GoldenloopError
from goldenloop.rubric import Criterion

Value = float | int | str | bool | list[str] | tuple[str, ...] | None


class GradeError(GoldenloopError):
    """An answer that does not fit its criterion, or required criteria left empty
    (``missing`` names them all, in the rubric's order)."""

    def __init__(self, message: str, *, missing: list[str] | None = None) -> None:
        super().__init__(message)
        self.missing = list(missing or [])


@dataclass(frozen=True)
class Answer:
    value: Value = None
    not_applicable: bool = False
    flagged: bool = False
    comment: str | None = None

    @property
    def empty(self) -> bool:
        return _blank(self.value) and not self.not_applicable and not self.flagged


def _blank(value: Value) -> bool:
    return value is None or (isinstance(value, str | list | tuple) and len(value) == 0)


def as_answer(value: Answer | Value) -> Answer:
    return value if isinstance(value, Answer) else Answer(value=value)


def _number(c: Criterion, value: Value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GradeError(f"{c.name}: expected a number, got {value!r}")
    lo, hi = c.scale
    if not lo <= value <= hi:
        raise GradeError(f"{c.name}: {value:g} is outside the scale {lo:g} to {hi:g}")
    if c.type == "ordinal" and not float(value).is_integer():
        raise GradeError(f"{c.name}: choose one of the whole-number levels {lo:g} to {hi:g}")
    return float(value)


def _label(c: Criterion, value: Value) -> str:
    if not isinstance(value, str) or value not in c.label_names:
        raise GradeError(f"{c.name}: {value!r} is not one of {', '.join(c.label_names)}")
    return value


def value_columns(c: Criterion, answer: Answer) -> dict[str, Any]:
    """The grade columns holding ``answer``'s value (all None for N/A or a bare flag)."""
    out: dict[str, Any] = {"value_number": None, "value_label": None, "value_labels": None,
                           "value_text": None}
    if answer.not_applicable and not _blank(answer.value):
        raise GradeError(f"{c.name}: 'not applicable' takes no value")
    if _blank(answer.value):
        return out
    v = answer.value
    if c.type in ("interval", "ordinal") and c.scale is not None:
        out["value_number"] = _number(c, v)
    elif c.type == "ordinal":
        out["value_label"] = _label(c, v)
        out["value_number"] = float(c.label_names.index(out["value_label"]) + 1)
    elif c.type == "nominal" and c.multi_select:
        chosen = [v] if isinstance(v, str) else list(v)
        for label in chosen:
            _label(c, label)
        out["value_labels"] = [n for n in c.label_names if n in set(chosen)]  # rubric order
    elif c.type == "nominal":
        out["value_label"] = _label(c, v)
    elif c.type == "boolean":
        if not isinstance(v, bool):
            raise GradeError(f"{c.name}: expected yes or no (true/false), got {v!r}")
        out["value_number"] = 1.0 if v else 0.0
    else:
        if not isinstance(v, str):
            raise GradeError(f"{c.name}: expected text, got {v!r}")
        out["value_text"] = v
    return out
