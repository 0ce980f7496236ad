"""A rubric as Argilla dataset settings, and an Argilla response back as goldenloop answers.

Question per criterion (the criterion's name is the question's name):
- a numeric scale with whole-number ends inside 0..10 -> a rating question (whole numbers);
  any other numeric scale -> a text question asking for a number, checked when pulled;
- ordinal labels, nominal criteria and yes/no -> a label question; multi-select nominal ->
  a multi-label question; text -> a text question.
Beside them: ``gl_not_applicable`` (multi-label over the criteria: ticking one stores "not
applicable" for it, and any answer to it is ignored), ``gl_flag`` (unsafe or broken item,
flags every grade of the response), ``gl_notes`` (the grade's comment) and, when the rubric
asks for one, ``gl_corrected_answer``. Argilla needs one required question: the rubric's
required criteria are required there too, and when none is, the first criterion is.
"""

from __future__ import annotations

from typing import Any

from goldenloop.review.answers import Answer
from goldenloop.rubric import Criterion, Rubric

NOT_APPLICABLE, FLAG, NOTES, CORRECTED = ("gl_not_applicable", "gl_flag", "gl_notes",
                                          "gl_corrected_answer")
FLAG_LABEL, NO_FLAG = "unsafe or broken", "no flag"  # a label question needs two
YES, NO = "yes", "no"
METADATA_TERMS = ("app", "model_version", "prompt_version", "queue", "stratum")
GOLDEN_TERMS = ("app", "model_version", "prompt_version", "golden_version", "label",
                "agreement_level", "expected_source")


class SetAside(ValueError):
    """A response that does not fit the rubric; kept aside with this reason."""


def is_rating(c: Criterion) -> bool:
    if c.scale is None or c.type not in ("interval", "ordinal"):
        return False
    lo, hi = c.scale
    return float(lo).is_integer() and float(hi).is_integer() and 0 <= lo < hi <= 10


def _description(c: Criterion) -> str:
    parts = [c.instructions.strip()] if c.instructions.strip() else []
    parts += [f"{k}: {v}" for k, v in sorted(c.levels.items())]
    if c.scale is not None and not is_rating(c):
        parts.append(f"Answer with a number from {c.scale[0]:g} to {c.scale[1]:g}.")
    return "\n".join(parts) or c.name


def _labels(c: Criterion) -> dict[str, str]:
    return {lab.name: lab.description or lab.name for lab in c.labels}


def question(rg, c: Criterion, required: bool):
    common = {"name": c.name, "title": c.name.replace("_", " "), "description": _description(c),
              "required": required}
    if is_rating(c):
        lo, hi = int(c.scale[0]), int(c.scale[1])
        return rg.RatingQuestion(values=list(range(lo, hi + 1)), **common)
    if c.type == "nominal" and c.multi_select:
        return rg.MultiLabelQuestion(labels=_labels(c), **common)
    if c.type in ("nominal", "ordinal") and c.labels:
        return rg.LabelQuestion(labels=_labels(c), **common)
    if c.type == "boolean":
        return rg.LabelQuestion(labels=[YES, NO], **common)
    return rg.TextQuestion(**common)


def guidelines(rubric: Rubric, criteria: tuple[Criterion, ...] | None = None) -> str:
    lines = [f"# {rubric.title or rubric.name}", "", rubric.description.strip(), ""]
    for c in rubric.criteria if criteria is None else criteria:
        lines += [f"## {c.name}", _description(c), ""]
    if rubric.corrected_answer.enabled and rubric.corrected_answer.instructions:
        lines += ["## corrected answer", rubric.corrected_answer.instructions, ""]
    lines += ["Every criterion may be marked not applicable; flag an unsafe or broken item."]
    return "\n".join(lines).strip()


def asked(rubric: Rubric, only: str | None = None) -> tuple[Criterion, ...]:
    """The criteria a dataset asks: all of the rubric's, or the one a golden set is about."""
    return (rubric.criterion(only),) if only else rubric.criteria


def _na_labels(criteria: tuple[Criterion, ...]) -> list[str]:
    """The criteria, plus a label that means nothing when there is only one criterion
    (Argilla's label questions need two labels; ``answers`` ignores any non-criterion)."""
    names = [c.name for c in criteria]
    return names if len(names) > 1 else [*names, "(none)"]


GOLDEN_GUIDE = ("You are reviewing rows of a golden dataset. Each row shows the graded answer "
                "and the expected output the dataset holds now. Grade the answer, and write "
                "the expected output it should hold in 'corrected answer' (the current one is "
                "suggested there: leave it as it is when it is right).")


def settings(rg, rubric: Rubric, reviewers: int, *, only: str | None = None,
             golden: bool = False):
    """``rg.Settings`` for a queue graded with ``rubric`` by ``reviewers`` people per item;
    with ``golden``, for the rows of a golden set about criterion ``only``: the current
    expected output is a field and the corrected answer is always asked."""
    criteria = asked(rubric, only)
    required = {c.name for c in criteria if c.required} or {criteria[0].name}
    questions = [question(rg, c, c.name in required) for c in criteria]
    questions += [
        rg.MultiLabelQuestion(name=NOT_APPLICABLE, title="not applicable",
                              labels=_na_labels(criteria), required=False),
        rg.LabelQuestion(name=FLAG, title="flag", labels=[FLAG_LABEL, NO_FLAG], required=False),
        rg.TextQuestion(name=NOTES, title="notes", required=False),
    ]
    if golden or rubric.corrected_answer.enabled:
        questions.append(rg.TextQuestion(name=CORRECTED, title="corrected answer",
                                         description=rubric.corrected_answer.instructions or
                                         "The answer the model should have given.",
                                         required=False))
    fields = [rg.ChatField(name="conversation", required=False),
              rg.TextField(name="output", required=True),
              rg.TextField(name="context", title="retrieved context and tool results",
                           required=False)]
    if golden:
        fields.append(rg.TextField(name="expected_output", title="expected output now",
                                   required=False))
    guide = guidelines(rubric, criteria)
    return rg.Settings(
        guidelines=f"{GOLDEN_GUIDE}\n\n{guide}" if golden else guide,
        fields=fields,
        questions=questions,
        metadata=[*(rg.TermsMetadataProperty(name=n)
                    for n in (GOLDEN_TERMS if golden else METADATA_TERMS)),
                  rg.FloatMetadataProperty(name="inclusion_prob")],
        distribution=rg.TaskDistribution(min_submitted=max(1, reviewers)),
        allow_extra_metadata=False,
    )


def suggestion_value(c: Criterion, g: dict[str, Any]) -> Any:
    """A judge grade's value in the question's terms (None when it has none)."""
    if is_rating(c):
        return None if g["value_number"] is None else round(g["value_number"])
    if c.type == "nominal" and c.multi_select:
        return list(g["value_labels"]) if g["value_labels"] is not None else None
    if c.labels:
        return g["value_label"]
    if c.type == "boolean":
        return None if g["value_number"] is None else (YES if g["value_number"] >= 0.5 else NO)
    if c.scale is not None:
        return None if g["value_number"] is None else f"{g['value_number']:g}"
    return g["value_text"]


def _value(c: Criterion, v: Any) -> Any:
    """An Argilla answer as the value goldenloop's grade checks expect."""
    if c.scale is not None and not is_rating(c):
        try:
            return float(str(v).strip())
        except ValueError:
            raise SetAside(f"{c.name}: {str(v)[:80]!r} is not a number") from None
    if c.type == "boolean":
        if v not in (YES, NO):
            raise SetAside(f"{c.name}: {str(v)[:80]!r} is not yes or no")
        return v == YES
    return v


def answers(rubric: Rubric, values: dict[str, Any], only: str | None = None
            ) -> tuple[dict[str, Answer], str | None]:
    """(answers by criterion, corrected answer) from a response's ``{question: value}``
    (the criteria asked: all, or ``only``). Raises SetAside when a value cannot be read;
    goldenloop's own checks run after."""
    na = set(values.get(NOT_APPLICABLE) or ())
    flagged = values.get(FLAG) == FLAG_LABEL
    notes = (values.get(NOTES) or "").strip() or None
    out = {}
    for c in asked(rubric, only):
        if c.name in na:
            out[c.name] = Answer(not_applicable=True, flagged=flagged, comment=notes)
        elif c.name in values and values[c.name] not in (None, "", []):
            out[c.name] = Answer(value=_value(c, values[c.name]), flagged=flagged, comment=notes)
        elif flagged:
            out[c.name] = Answer(flagged=True, comment=notes)
    corrected = (values.get(CORRECTED) or "").strip() or None
    return out, corrected
