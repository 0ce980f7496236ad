"""What a golden dataset is built from: the criterion, the source of truth, the rule that makes
a graded answer "correct", grade thresholds, and filters over the graded targets.

The filter is frozen and made of tuples, so the app can cache on it, and it round-trips
through a plain dict, which each version stores with itself (flat, as versions always
stored it). Its span part (apps, versions, tags, time range of the graded answer) is the
one span filter, ``spans``, whose builder writes that part of the SQL.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from goldenloop.errors import FilterError, GoldenloopError
from goldenloop.golden.curation import Condition, check_split
from goldenloop.store.span_filter import SpanFilter


class GoldenError(GoldenloopError):
    """A golden dataset cannot be built, found, diffed or exported as asked."""



# Sources of truth.
HUMAN = "human"                  # reviewers' verdict (an adjudication, else their majority)
HUMAN_JUDGE = "human_judge"      # ... and the latest judge grade reaches the same verdict
ADJUDICATED = "adjudicated"      # only targets a lead settled with an adjudication grade
CONSENSUS = "consensus"          # at least N reviewers, all reaching the same verdict
SOURCES = {
    HUMAN: "Human grades",
    HUMAN_JUDGE: "Human and judge agree",
    ADJUDICATED: "Adjudicated only",
    CONSENSUS: "Consensus of at least N reviewers",
}
TARGET_TYPES = ("span", "trace", "session", "item", "comparison")
# Which judge versions' grades count for "judge agrees" and the human_judge source: those fit
# for use on the criterion (the agreement gate), every one, none, or the ones chosen.
JUDGE_MODES = ("fit", "any", "none", "chosen")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


def check_name(name: str) -> str:
    """A dataset name: it becomes a folder name in exports, so it is kept plain."""
    clean = (name or "").strip().lower()
    if not _NAME.match(clean) or ".." in clean:
        raise FilterError(f"dataset name {name!r}: use 1-80 lower-case letters, digits, '.', "
                          "'_' or '-', starting with a letter or digit")
    return clean


@dataclass(frozen=True)
class GoldenFilter:
    """Which graded targets become rows, and what counts as a correct answer.

    ``correct_at`` (numbers: the verdict is at least this) and ``correct_labels`` (labels:
    the verdict is one of these; multi-select: all chosen labels are among them) decide
    when the graded answer itself may be the expected output. Without either rule only
    corrected answers (and comparison winners) give rows. ``min_value``/``max_value``/
    ``labels`` are thresholds on the verdict: rows outside them are filtered out.

    ``rubric_name`` and ``rubric_version`` choose the rubric whose criterion gives the
    default correctness rule (and, when named, whose grades count). ``judges`` says which
    judge versions count; ``judge_versions`` lists them (``build.resolve`` fills it in for
    "fit" and "none"; for "chosen" the caller names them).
    """

    criterion: str = "correctness"
    rubric_name: str | None = None
    rubric_version: str | None = None
    judges: str = "fit"
    judge_versions: tuple[str, ...] = ()
    source: str = HUMAN
    min_reviewers: int = 2                 # for CONSENSUS
    correct_at: float | None = None
    correct_labels: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    labels: tuple[str, ...] = ()
    target_types: tuple[str, ...] = TARGET_TYPES
    apps: tuple[str, ...] = ()
    model_versions: tuple[str, ...] = ()
    prompt_versions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()             # a row needs at least one of these tags
    queue_ids: tuple[int, ...] = ()        # graded in one of these review queues
    start: datetime | None = None          # the graded answer's time, UTC, inclusive
    end: datetime | None = None            # exclusive
    # Curation (golden.curation), apart from the span part: conditions on other criteria
    # of the target, the evidence behind a row, de-duplication and the split.
    conditions: tuple[Condition, ...] = ()
    min_agreeing: int = 0                  # reviewers holding the row's verdict
    min_gold_accuracy: float | None = None  # ... counted only when this accurate on gold
    dedupe: bool = False
    split: tuple[float, ...] = ()          # train, validation, test shares
    split_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("correct_labels", "labels", "target_types", "apps", "model_versions",
                     "prompt_versions", "tags", "queue_ids", "judge_versions"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, tuple):
                object.__setattr__(self, name, tuple([value] if isinstance(value, str)
                                                     else value or ()))
        object.__setattr__(self, "conditions", tuple(
            c if isinstance(c, Condition) else Condition(**c) if isinstance(c, dict)
            else Condition.parse(str(c)) for c in (self.conditions or ())))
        object.__setattr__(self, "split", check_split(tuple(self.split or ())))
        self.check()

    def check(self) -> None:
        if not (self.criterion or "").strip():
            raise FilterError("criterion: required")
        if self.judges not in JUDGE_MODES:
            raise FilterError(f"judges: {self.judges!r} is not one of {', '.join(JUDGE_MODES)}")
        if self.rubric_version and not self.rubric_name:
            raise FilterError("rubric_version: name the rubric too")
        if self.source not in SOURCES:
            raise FilterError(f"source: {self.source!r} is not one of {', '.join(SOURCES)}")
        if self.source == CONSENSUS and self.min_reviewers < 2:
            raise FilterError("min_reviewers: a consensus needs at least 2 reviewers")
        bad = set(self.target_types) - set(TARGET_TYPES)
        if bad or not self.target_types:
            raise FilterError(f"target_types: choose among {', '.join(TARGET_TYPES)}")
        if (self.min_value is not None and self.max_value is not None
                and self.min_value > self.max_value):
            raise FilterError("min_value: above max_value")
        if self.min_agreeing < 0:
            raise FilterError("min_agreeing: not negative")
        if self.min_gold_accuracy is not None and not 0 <= self.min_gold_accuracy <= 1:
            raise FilterError("min_gold_accuracy: a share between 0 and 1")
        self.spans  # noqa: B018 - the span part's own checks (an empty time range)

    @property
    def spans(self) -> SpanFilter:
        """The span part: the graded answer's app, model and prompt version, tags and time.
        goldenloop's own spans are not left out (rows are chosen by their grades: a graded
        canary answer counts), nor any kind (a trace or session is represented by its last
        LLM span; an item has none, so any set span part leaves items out)."""
        return SpanFilter(start=self.start, end=self.end, apps=self.apps,
                          model_versions=self.model_versions,
                          prompt_versions=self.prompt_versions, tags=self.tags,
                          include_internal=True)

    @property
    def has_correct_rule(self) -> bool:
        return self.correct_at is not None or bool(self.correct_labels)

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "conditions":
                v = tuple(c.to_dict() for c in v)
            out[f.name] = list(v) if isinstance(v, tuple) else (
                v.isoformat() if isinstance(v, datetime) else v)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GoldenFilter:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise FilterError(f"unknown filter fields: {', '.join(sorted(unknown))}")
        kw = {}
        for k, v in data.items():
            if k in ("start", "end") and isinstance(v, str):
                v = datetime.fromisoformat(v)
            elif isinstance(v, list):
                v = tuple(v)
            kw[k] = v
        return cls(**kw)

    def describe(self) -> list[str]:
        """The filter as short lines for a dataset card (only what is set)."""
        d = self.to_dict()
        rubric = "@".join(str(x) for x in (self.rubric_name, self.rubric_version) if x)
        lines = [f"criterion: {self.criterion}" + (f" (rubric {rubric})" if rubric else ""),
                 f"source of truth: {SOURCES[self.source]}"
                 + (f" (N = {self.min_reviewers})" if self.source == CONSENSUS else "")]
        if self.correct_at is not None:
            lines.append(f"graded correct when the grade is at least {self.correct_at:g}")
        if self.correct_labels:
            lines.append(f"graded correct when labelled {', '.join(self.correct_labels)}")
        if self.judges == "any":
            lines.append("judge versions counted: every version")
        else:
            lines.append(f"judge versions counted ({self.judges}): "
                         f"{', '.join(self.judge_versions) or 'none'}")
        lines += [f"condition {c.describe()}" for c in self.conditions]
        for key in ("min_value", "max_value", "labels", "target_types", "apps",
                    "model_versions", "prompt_versions", "tags", "queue_ids", "start", "end",
                    "min_agreeing", "min_gold_accuracy"):
            default = getattr(GoldenFilter, key, None)
            value = d[key]
            if value in (None, [], (), 0) or (key == "target_types" and tuple(value) == default):
                continue
            lines.append(f"{key}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
        if self.dedupe:
            lines.append("inputs de-duplicated (the best-supported row kept)")
        if self.split:
            lines.append("split by session: " + ", ".join(
                f"{n} {s:.0%}" for n, s in zip(("train", "validation", "test"), self.split,
                                               strict=True)) + f" (seed {self.split_seed})")
        return lines
