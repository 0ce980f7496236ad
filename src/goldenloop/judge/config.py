"""Judges as data: YAML files, validated, versioned by content hash.

A judge file names the rubric criterion it grades, a prompt template with named variables,
the model, its temperature and answer length, the endpoint (a base URL, or the NAME of the
environment variable holding it, and the name of the variable holding the key — never the
key), and whether texts are redacted before sending. Packaged judges live in
``goldenloop/judge/builtin/``; users add theirs in ``judges/`` beside the database.

A judge's version is the first 12 hex digits of the SHA-256 of its canonical content plus the
criterion it grades (rubric version, instructions, scale or labels) and the output schema, so
editing the prompt, the model, the temperature or the rubric makes a new version; where it
is sent (the endpoint) does not.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from goldenloop import rubric as rubrics
from goldenloop.errors import GoldenloopError
from goldenloop.store import Store

# Variables a template may use. Those in DATA_VARIABLES are untrusted text: the renderer
# delimits them and the prompt tells the judge to treat them as data.
DATA_VARIABLES = ("input", "messages", "output", "retrieved_context", "reference",
                  "output_a", "output_b")
VARIABLES = (*DATA_VARIABLES, "rubric", "criterion", "scale")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


class JudgeError(GoldenloopError):
    """A judge file that cannot be read or is invalid, or a judge that does not exist."""


class Endpoint(BaseModel):
    """Where calls go. ``base_url`` wins over ``base_url_env``; with neither set, the openai
    client's default (api.openai.com). The key is read from ``api_key_env`` at run time."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    base_url: str | None = None
    base_url_env: str = "OPENAI_BASE_URL"
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = Field(default=60.0, gt=0)


class Judge(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    description: str = ""
    kind: Literal["pointwise", "pairwise"] = "pointwise"
    rubric: str = "default"
    criterion: str
    model: str
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=400, ge=16, le=16_000)
    system: str = ""
    template: str
    reason: bool = True              # ask for a short reason with the verdict
    # The answer's JSON schema; derived from the criterion when left out (see verdict.py).
    # Given, it must hold the criterion's answer field (score, label, pass or verdict).
    output_schema: dict[str, Any] | None = None
    redact: bool = False             # mask e-mails, phone numbers, API keys before sending
    endpoint: Endpoint = Endpoint()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("use lower-case letters, digits, '.', '_' or '-' (at most 63)")
        return v

    @field_validator("template", "system")
    @classmethod
    def _variables(cls, v: str) -> str:
        try:
            used = meta.find_undeclared_variables(ENV.parse(v))
        except TemplateSyntaxError as exc:
            raise ValueError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
        unknown = sorted(used - set(VARIABLES))
        if unknown:
            raise ValueError(f"unknown variables {', '.join(unknown)}; "
                             f"known: {', '.join(VARIABLES)}")
        return v

    def content(self) -> dict[str, Any]:
        # Unset optional fields are left out, so adding one later keeps existing versions.
        return self.model_dump(mode="json", exclude={"description", "endpoint"}, exclude_none=True)


class LoadedJudge(BaseModel):
    """A judge with the rubric criterion it grades: everything a run needs."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    judge: Judge
    rubric: rubrics.Rubric
    origin: str = "package"
    path: str | None = None

    @property
    def name(self) -> str:
        return self.judge.name

    @property
    def criterion(self) -> rubrics.Criterion:
        return self.rubric.criterion(self.judge.criterion)

    @cached_property
    def output_schema(self) -> dict[str, Any]:
        from goldenloop.judge.verdict import output_schema

        return self.judge.output_schema or output_schema(self.criterion, self.judge.kind,
                                                         self.judge.reason)

    @cached_property
    def version(self) -> str:
        content = {"judge": self.judge.content(), "rubric_version": self.rubric.version,
                   "criterion": self.criterion.model_dump(mode="json"),
                   "schema": self.output_schema}
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def package_dir() -> Path:
    return Path(__file__).resolve().parent / "builtin"


def user_dir(store: Store) -> Path:
    return store.path.parent / "judges"


def parse(data: Any, source: str) -> Judge:
    if not isinstance(data, dict):
        raise JudgeError(f"{source}: a judge is a mapping with name, criterion, model, template")
    try:
        return Judge.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {'.'.join(str(p) for p in e['loc']) or '<judge>'}: "
                 f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]
        raise JudgeError("\n".join(lines)) from None


def attach(store: Store | None, judge: Judge, source: str, origin: str = "package") -> LoadedJudge:
    """The judge with its rubric (the current version of the rubric it names)."""
    try:
        rubric = rubrics.current(store, judge.rubric) if store is not None else \
            rubrics.load_file(rubrics.package_dir() / f"{judge.rubric}.yaml")
    except rubrics.RubricError as exc:
        raise JudgeError(f"{source}: rubric: {exc}") from None
    try:
        criterion = rubric.criterion(judge.criterion)
    except rubrics.RubricError as exc:
        raise JudgeError(f"{source}: criterion: {exc}") from None
    problem = _criterion_problem(criterion, judge.kind)
    if problem:
        raise JudgeError(f"{source}: criterion: {problem}")
    problem = _schema_problem(judge, criterion)
    if problem:
        raise JudgeError(f"{source}: output_schema: {problem}")
    return LoadedJudge(judge=judge, rubric=rubric, origin=origin, path=source)


def _criterion_problem(c: rubrics.Criterion, kind: str) -> str | None:
    if c.type == "text":
        return f"{c.name} is a text criterion: a judge gives a score or a label"
    if c.multi_select:
        return f"{c.name} is multi-select: a judge gives one label"
    if kind == "pairwise" and not c.is_pairwise:
        return f"a pairwise judge grades a criterion labelled A better / B better / tie, " \
               f"not {c.name}"
    if kind == "pointwise" and c.is_pairwise:
        return f"{c.name} compares two answers: make the judge kind: pairwise"
    return None


def _schema_problem(judge: Judge, c: rubrics.Criterion) -> str | None:
    from goldenloop.judge.verdict import answer_field

    schema = judge.output_schema
    if schema is None:
        return None
    field = answer_field(c, judge.kind)
    props = schema.get("properties") if schema.get("type") == "object" else None
    if not isinstance(props, dict):
        return "a JSON schema of type object with properties"
    if field not in props or field not in schema.get("required", []):
        return f"the criterion {c.name} needs a required property {field!r}"
    return None


def load_file(path: Path, store: Store | None = None, origin: str = "package") -> LoadedJudge:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise JudgeError(f"{path.name}: cannot read: {exc}") from None
    return attach(store, parse(data, path.name), path.name, origin)


def available(store: Store | None = None) -> dict[str, LoadedJudge]:
    """Every judge by name: packaged ones, then the user folder's (a user file of the same
    name replaces the packaged judge)."""
    found = [("package", p) for p in sorted(package_dir().glob("*.yaml"))]
    if store is not None and user_dir(store).is_dir():
        found += [("user", p) for p in sorted(user_dir(store).glob("*.yaml"))]
    out: dict[str, LoadedJudge] = {}
    for origin, path in found:
        j = load_file(path, store, origin)
        out[j.name] = j
    return out


def get(store: Store | None, name_or_path: str) -> LoadedJudge:
    """A judge by name, or from a YAML file path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return load_file(p, store, "user")
    judges = available(store)
    if name_or_path not in judges:
        raise JudgeError(f"no judge named {name_or_path!r}; known: {', '.join(judges) or 'none'}")
    return judges[name_or_path]
