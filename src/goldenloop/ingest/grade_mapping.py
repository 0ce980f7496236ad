"""The mapping of a grade import: which columns hold the target, the criterion, the raters
and their values, and the scale the values are checked against.

A grade mapping is a YAML or JSON file with one top-level key, ``grades`` (a span mapping
has none), so ``goldenloop import FILE --mapping FILE.yaml`` tells the two apart. Wide tables
have one column per rater or judge; long tables one row per (target, rater, criterion,
value). Author fields are templates: ``{column}`` (wide), ``{rater}`` (long), the named
groups of a column ``pattern``, and the file's ``{stem}``, ``{parent}`` (its folder) and
``{parent2}`` (the folder above), so one mapping serves a tree of result files.
See ``examples/*.yaml``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from goldenloop.errors import MappingError
from goldenloop.ingest.mapping import is_grade_mapping as is_grade_mapping  # its home

TARGET_TYPES = ("span", "trace", "session", "item", "comparison")
OUT_OF_SCALE = ("keep", "missing")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Target(_Strict):
    """What a row grades. ``column`` holds its id; or ``hash`` names columns whose values
    together identify it (an id that survives reordered files); span targets may instead
    give ``trace_id`` and ``span_id`` columns. ``prefix`` is put before the id."""

    type: Literal["span", "trace", "session", "item", "comparison"] = "item"
    column: str | None = None
    hash: list[str] | None = None
    trace_id: str | None = None
    span_id: str | None = None
    prefix: str = ""

    @model_validator(mode="after")
    def _one_id(self) -> Target:
        ways = [self.column is not None, self.hash is not None,
                self.trace_id is not None or self.span_id is not None]
        if sum(ways) != 1:
            raise ValueError("give exactly one of column, hash, or trace_id + span_id")
        if (self.trace_id is None) != (self.span_id is None):
            raise ValueError("trace_id and span_id go together")
        if self.trace_id is not None and self.type != "span":
            raise ValueError("trace_id + span_id name span targets only")
        if self.prefix and self.type not in ("item", "comparison"):
            raise ValueError("prefix applies to item and comparison ids: spans, traces and "
                             "sessions keep the ids the store has")
        return self

    def columns(self) -> list[str]:
        return [c for c in (self.column, self.trace_id, self.span_id) if c] + (self.hash or [])


class ItemFields(_Strict):
    """Rows for the ``items`` table (targets that are not spans): columns, a literal dataset,
    and columns copied into the item's metadata."""

    dataset: str = "imported"
    input: str | None = None
    output: str | None = None
    reference: str | None = None
    metadata: list[str] = Field(default_factory=list)


class ComparisonFields(_Strict):
    """Rows for the ``comparisons`` table: the input and the two outputs (A first)."""

    dataset: str = "imported"
    input: str | None = None
    a_output: str | None = None
    b_output: str | None = None
    metadata: list[str] = Field(default_factory=list)


class ScaleSpec(_Strict):
    """The declared scale: interval or ordinal numbers between ``min`` and ``max``, or
    ordered ``labels`` (ordinal) or a label set (nominal, boolean)."""

    type: Literal["interval", "ordinal", "nominal", "boolean", "text"]
    min: float | None = None
    max: float | None = None
    labels: list[str] | None = None
    higher_is_better: bool | None = True

    @model_validator(mode="after")
    def _complete(self) -> ScaleSpec:
        if self.type == "boolean" and not self.labels:
            self.labels = ["fail", "pass"]
        if self.type == "nominal" and not self.labels:
            raise ValueError("a nominal scale lists its labels")
        if self.type == "ordinal" and not self.labels and (self.min is None or self.max is None):
            raise ValueError("an ordinal scale gives labels, or min and max")
        return self

    @property
    def numeric(self) -> bool:
        """Values are stored as numbers (else as labels)."""
        return self.type == "interval" or (self.type == "ordinal" and not self.labels)


class Rater(_Strict):
    """Who gave the values: in a wide table, a ``column`` (with a JSON ``path`` into it for
    nested values), a list of ``columns``, or a column-name ``pattern`` (a regex whose named
    groups feed the templates); in a long table a ``match`` regex on the rater id."""

    column: str | None = None
    columns: list[str] | None = None
    pattern: str | None = None
    match: str | None = None
    path: str | None = None
    kind: Literal["reviewer", "judge"] = "reviewer"
    id: str | None = None
    name: str | None = None
    model: str | None = None
    version: str | None = None
    shown_order: Literal["AB", "BA"] | None = None

    @model_validator(mode="after")
    def _regexes(self) -> Rater:
        for rx in (self.pattern, self.match):
            if rx is not None:
                try:
                    re.compile(rx)
                except re.error as exc:
                    raise ValueError(f"bad regex {rx!r}: {exc}") from exc
        return self


class GradeMapping(_Strict):
    layout: Literal["wide", "long"] = "wide"
    target: Target
    item: ItemFields | None = None
    comparison: ComparisonFields | None = None
    rubric: dict[str, str] = Field(default_factory=dict)  # name, version
    criterion: str | None = None              # one criterion for the whole file
    criterion_column: str | None = None       # or a column naming it per row
    scale: ScaleSpec
    values: dict[str, str] = Field(default_factory=dict)  # raw value -> stored label
    missing: str | None = None                # what an empty value means (else: no grade)
    out_of_scale: Literal["keep", "missing"] = "keep"
    raters: list[Rater] = Field(default_factory=list)
    rater_column: str | None = None           # long layout
    value_column: str | None = None           # long layout
    comment_column: str | None = None
    time_column: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> GradeMapping:
        if (self.criterion is None) == (self.criterion_column is None):
            raise ValueError("give criterion (one name) or criterion_column, not both")
        if self.layout == "long":
            if not self.rater_column or not self.value_column:
                raise ValueError("a long table names its rater_column and value_column")
        elif not self.raters:
            raise ValueError("a wide table lists its raters (columns)")
        for r in self.raters:
            wide = [r.column, r.columns, r.pattern]
            if self.layout == "wide" and sum(x is not None for x in wide) != 1:
                raise ValueError("each rater of a wide table gives one of column, columns, "
                                 "pattern")
        if self.target.type == "item" and self.item is None:
            self.item = ItemFields()
        if self.target.type == "comparison" and self.comparison is None:
            self.comparison = ComparisonFields()
        return self

    def rubric_name(self) -> str:
        return self.rubric.get("name") or "imported"

    def rubric_version(self) -> str:
        """The given version, else a hash of the scale, so a changed scale is a new version."""
        if self.rubric.get("version"):
            return str(self.rubric["version"])
        return hashlib.sha256(self.scale.model_dump_json().encode()).hexdigest()[:12]


def parse(mapping: Mapping[str, Any], where: str = "mapping") -> GradeMapping:
    try:
        return GradeMapping.model_validate(mapping["grades"])
    except ValidationError as exc:
        problems = "; ".join(
            f"grades.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"]
            else f"grades: {e['msg']}" for e in exc.errors())
        raise MappingError(f"{where}: {problems}") from exc


def mapping_digest(mapping: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(mapping, sort_keys=True, default=str).encode()).hexdigest()


def with_out_of_scale(mapping: dict[str, Any], choice: str | None) -> dict[str, Any]:
    """The mapping with the user's out-of-scale choice (a command-line flag) written in."""
    if choice is None:
        return mapping
    if choice not in OUT_OF_SCALE:
        raise MappingError(f"--out-of-scale {choice!r}: choose keep or missing")
    return {**mapping, "grades": {**mapping["grades"], "out_of_scale": choice}}


def file_fields(path: Path) -> dict[str, str]:
    """Template fields taken from the file's name and folders."""
    parts = path.resolve().parts
    return {"file": path.name, "stem": path.stem,
            "parent": parts[-2] if len(parts) > 1 else "",
            "parent2": parts[-3] if len(parts) > 2 else ""}


def fill(template: str | None, fields: Mapping[str, str], default: str | None = None
         ) -> str | None:
    """A template with ``{field}`` names filled; unknown names are an error that says which."""
    if template is None:
        return default
    try:
        return template.format_map(dict(fields))
    except (KeyError, IndexError, ValueError) as exc:
        raise MappingError(f"template {template!r}: unknown field {exc}; known: "
                           f"{', '.join(sorted(fields))}") from exc
