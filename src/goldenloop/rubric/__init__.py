"""Rubrics as data: YAML files, validated, versioned by content hash, loaded into the store.

The YAML files are the source of truth. Packaged rubrics live in ``goldenloop/rubric/builtin/``;
a lead's edit is written as a new file in the user folder beside the database
(``data/rubrics/<name>.<version>.yaml``), never into the package. A rubric's version is the
first 12 hex digits of the SHA-256 of its canonical content (criteria, labels, levels,
instructions; not who edited it or when), so any change is a new version, an unchanged
file is the same version everywhere, and nobody has to remember to bump a number. The
current version of a rubric is the user folder's most recently edited one, else the
packaged one.

``sync`` loads every version into the ``rubrics`` table (the whole document) and the
``criteria`` table (one row per criterion, for joins); both are idempotent. Grades keep
the version they were made under.

Every criterion also offers "not applicable" and a "flag" (unsafe or broken item); those
are columns of a grade, never a score, so they are not declared per criterion.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from goldenloop.access import roles
from goldenloop.errors import GoldenloopError
from goldenloop.rubric import sql as rubric_sql
from goldenloop.store import Store, audit
from goldenloop.store.grades import insert_criteria

__all__ = [
    "PREFERENCE_LABELS", "CorrectedAnswer", "Criterion", "Label", "Rubric", "RubricError",
    "current", "get", "load_file", "package_dir", "save_edit", "sync", "to_yaml", "user_dir",
]

ValueType = Literal["interval", "ordinal", "nominal", "boolean", "text"]
# A nominal criterion with exactly these labels is pairwise: for a comparison item its
# answer is translated from the order shown to the order stored (see review.submit).
PREFERENCE_LABELS = ("A better", "B better", "tie")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _check_name(v: str) -> str:
    if not _NAME.match(v):
        raise ValueError("use lower-case letters, digits, '_' or '-' (at most 63)")
    return v


class RubricError(GoldenloopError):
    """A rubric file that cannot be read or is invalid, or a rubric that does not exist."""


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    description: str = ""


class Criterion(BaseModel):
    """One question a reviewer answers. Ordinal criteria have either a numeric ``scale`` with
    anchored ``levels`` or ordered ``labels`` (worst first when higher is better)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    type: ValueType
    scale: tuple[float, float] | None = None
    multi_select: bool = False
    higher_is_better: bool | None = None
    required: bool = True
    instructions: str = ""
    levels: dict[int, str] = Field(default_factory=dict)
    labels: tuple[Label, ...] = ()

    @field_validator("name")
    @classmethod
    def check_name(cls, v: str) -> str:
        return _check_name(v)

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, v: Any) -> Any:
        # YAML writes labels as an ordered mapping name -> description; keep the order.
        if isinstance(v, dict):
            return [{"name": str(k), "description": d or ""} for k, d in v.items()]
        return v

    @model_validator(mode="after")
    def _shape(self) -> Criterion:
        problem = _shape_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    @property
    def is_pairwise(self) -> bool:
        return self.type == "nominal" and tuple(self.label_names) == PREFERENCE_LABELS


def _shape_problem(c: Criterion) -> str | None:
    """What is wrong with a criterion's combination of fields, or None."""
    if c.multi_select and c.type != "nominal":
        return "multi_select is only for nominal criteria"
    if c.type in ("nominal", "text", "boolean") and c.scale is not None:
        return f"a {c.type} criterion has no scale"
    if c.type == "nominal" and len(c.labels) < 2:
        return "a nominal criterion needs at least two labels"
    if c.type == "interval" and c.scale is None:
        return "an interval criterion needs a scale: [min, max]"
    if c.type == "ordinal" and (c.scale is None) == (len(c.labels) < 2):
        return "an ordinal criterion needs either a scale: [min, max] or at least two labels"
    if c.type in ("text", "boolean", "interval") and c.labels:
        return f"a {c.type} criterion has no labels"
    if c.scale is not None:
        lo, hi = c.scale
        if not lo < hi:
            return f"scale must go from low to high, got [{lo}, {hi}]"
        if c.type == "ordinal" and not (float(lo).is_integer() and float(hi).is_integer()):
            return "an ordinal scale has whole-number ends"
        outside = [k for k in c.levels if not lo <= k <= hi]
        if outside:
            return f"levels {outside} are outside the scale [{lo:g}, {hi:g}]"
    elif c.levels:
        return "levels describe the points of a scale: give a scale too"
    if len(set(c.label_names)) != len(c.labels):
        return "labels must be distinct"
    return None


class CorrectedAnswer(BaseModel):
    """Whether reviewers may write a corrected answer (stored as a correction, not a grade)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    instructions: str = ""


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    title: str = ""
    description: str = ""
    criteria: tuple[Criterion, ...]
    corrected_answer: CorrectedAnswer = CorrectedAnswer(enabled=False)
    # Provenance of a lead's edit: kept in the file, not part of the version hash.
    based_on: str | None = None
    edited_by: str | None = None
    edited_at: datetime | None = None

    @field_validator("name")
    @classmethod
    def check_name(cls, v: str) -> str:
        return _check_name(v)

    @model_validator(mode="after")
    def _unique(self) -> Rubric:
        if not self.criteria:
            raise ValueError("a rubric needs at least one criterion")
        names = [c.name for c in self.criteria]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"criteria names repeat: {', '.join(dupes)}")
        return self

    def content(self) -> dict[str, Any]:
        """The canonical content the version hashes (defaults left out, so adding an
        optional field to the model later does not change existing versions)."""
        return self.model_dump(mode="json", exclude_defaults=True,
                               exclude={"based_on", "edited_by", "edited_at"})

    @property
    def version(self) -> str:
        text = json.dumps(self.content(), separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def criterion(self, name: str) -> Criterion:
        for c in self.criteria:
            if c.name == name:
                return c
        raise RubricError(f"rubric {self.name} ({self.version}) has no criterion {name!r}")


# -- files -------------------------------------------------------------------------------------
def package_dir() -> Path:
    return Path(__file__).with_name("builtin")


def user_dir(store: Store) -> Path:
    """Where leads' edits are written: ``rubrics/`` beside the database file."""
    return store.path.parent / "rubrics"


def _field_path(loc: tuple, data: Any) -> str:
    """``criteria[1] (tone).labels`` from a pydantic error location."""
    out, node = "", data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "name" in node:
                out += f" ({node['name']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "<rubric>"


def parse(data: Any, source: str) -> Rubric:
    """Validate ``data`` (parsed YAML) into a Rubric; errors name ``source`` and the field."""
    if not isinstance(data, dict):
        raise RubricError(f"{source}: a rubric is a mapping with name and criteria")
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {_field_path(e['loc'], data)}: {e['msg'].removeprefix('Value error, ')}"
                 for e in exc.errors()]
        raise RubricError("\n".join(lines)) from None


def load_file(path: Path) -> Rubric:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RubricError(f"{path.name}: cannot read: {exc}") from None
    return parse(data, path.name)


def to_yaml(rubric: Rubric) -> str:
    """The rubric as YAML in the authored shape (labels and levels as ordered mappings)."""
    data = rubric.model_dump(mode="json", exclude_defaults=True)
    for c in data["criteria"]:
        if "scale" in c:
            c["scale"] = [int(x) if float(x).is_integer() else x for x in c["scale"]]
        if "labels" in c:
            c["labels"] = {lab["name"]: lab.get("description", "") for lab in c["labels"]}
        if "levels" in c:
            c["levels"] = {int(k): v for k, v in c["levels"].items()}
    if rubric.edited_at is not None:  # a YAML timestamp reads back as a datetime
        data["edited_at"] = rubric.edited_at
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _files(store: Store) -> list[tuple[str, Path]]:
    found = [("package", p) for p in sorted(package_dir().glob("*.yaml"))]
    udir = user_dir(store)
    if udir.is_dir():
        found += [("user", p) for p in sorted(udir.glob("*.yaml"))]
    return found


def _all_versions(store: Store) -> list[tuple[str, Rubric, float]]:
    """(origin, rubric, edit time as a number) for every rubric file."""
    out = []
    for origin, path in _files(store):
        r = load_file(path)
        when = r.edited_at.timestamp() if r.edited_at else path.stat().st_mtime
        out.append((origin, r, when if origin == "user" else float("-inf")))
    return out


# -- the store ---------------------------------------------------------------------------------
def criteria_table(rubric: Rubric) -> pa.Table:
    cs = rubric.criteria
    descriptions = [
        json.dumps({str(k): v for k, v in c.levels.items()}) if c.levels
        else json.dumps({lab.name: lab.description for lab in c.labels}) if c.labels
        else None
        for c in cs
    ]
    return pa.table({
        "rubric_name": [rubric.name] * len(cs),
        "rubric_version": [rubric.version] * len(cs),
        "name": [c.name for c in cs],
        "value_type": [c.type for c in cs],
        "min_value": pa.array([c.scale[0] if c.scale else None for c in cs], pa.float64()),
        "max_value": pa.array([c.scale[1] if c.scale else None for c in cs], pa.float64()),
        "labels": pa.array([c.label_names or None for c in cs], pa.list_(pa.string())),
        "label_descriptions": descriptions,
        "higher_is_better": pa.array([c.higher_is_better for c in cs], pa.bool_()),
        "multi_select": [c.multi_select for c in cs],
        "instructions": [c.instructions for c in cs],
    })


def _store_version(cur, rubric: Rubric, origin: str) -> bool:
    added = rubric_sql.insert_rubric(cur, rubric.name, rubric.version, rubric.title,
                                     json.dumps(rubric.model_dump(mode="json")), origin,
                                     rubric.based_on, rubric.edited_by, rubric.edited_at)
    insert_criteria(cur, criteria_table(rubric))
    return added


def sync(store: Store) -> int:
    """Load every rubric file (packaged and the user folder's) into the store; return how
    many versions were new. Safe to run any number of times."""
    versions = _all_versions(store)

    def write(cur) -> int:
        return sum(_store_version(cur, r, origin) for origin, r, _ in versions)

    return store.write(write)


def current(store: Store, name: str) -> Rubric:
    """The version of ``name`` new queues use: the latest edit, else the packaged file."""
    candidates = [(when, r) for _o, r, when in _all_versions(store) if r.name == name]
    if not candidates:
        raise RubricError(f"no rubric named {name!r}: add rubrics/{name}.yaml")
    return max(candidates, key=lambda t: t[0])[1]


def get(store: Store, name: str, version: str) -> Rubric:
    """A stored version (every version ever synced stays readable, even when its file is gone)."""
    doc = rubric_sql.definition(store, name, version)
    if doc is None:
        sync(store)
        doc = rubric_sql.definition(store, name, version)
    if doc is None:
        raise RubricError(f"rubric {name!r} has no version {version!r}")
    return parse(json.loads(doc), f"stored rubric {name} {version}")


def save_edit(store: Store, rubric: Rubric, edited_by: str) -> Rubric:
    """A lead's edit: write it as a new YAML file in the user folder and load it. An edit
    that changes nothing returns the existing version and writes nothing."""
    edited_by = roles.require(store, edited_by, roles.Action.EDIT_RUBRIC)
    base = current(store, rubric.name)
    if base.version == rubric.version:
        return base
    edited = rubric.model_copy(update={
        "based_on": base.version, "edited_by": edited_by,
        "edited_at": datetime.now(UTC).replace(tzinfo=None, microsecond=0),
    })
    parse(edited.model_dump(mode="json"), "edited rubric")  # model_copy skips validation
    folder = user_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{edited.name}.{edited.version}.yaml"
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(to_yaml(edited), encoding="utf-8")
    os.replace(tmp, path)  # readers never see half a file

    def write(cur) -> None:
        _store_version(cur, edited, "user")
        audit.record(cur, edited_by, "rubric.edit", f"rubric:{edited.name}",
                     {"version": edited.version, "based_on": base.version})

    store.write(write)
    return edited
