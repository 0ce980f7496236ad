"""Targets as data: what a run sends each test item to, as YAML, versioned by content hash.

Two kinds:
- ``endpoint``: an OpenAI-compatible endpoint (the judge's ``Endpoint``: a base URL or the
  NAME of the variable holding it, and the NAME of the variable holding the key, never the
  key) + ``model`` + a prompt (``system`` and a ``template`` rendered in Jinja's sandbox over
  the item's ``input`` and ``metadata``; an item with chat ``messages`` and no template is
  sent as its messages) + ``temperature``, ``max_tokens`` and other request ``parameters``.
- ``app``: an application entry point ``module:function`` called with the item's input
  text and the item (a dict); it returns the answer text, or a dict with ``output`` and
  optionally ``model_version``, ``input_tokens``, ``output_tokens``, ``cost_usd``.

``database`` names the known DuckDB or SQLite file the ``sql`` scorer runs queries on.

The version is the first 12 hex digits of the SHA-256 of the canonical content without the
description and the endpoint: a new prompt, model or parameter is a new version; where the
calls go is not. Targets live in ``targets/`` beside the database, or are given as a path.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import TemplateSyntaxError, meta
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from goldenloop.errors import ExperimentError
from goldenloop.judge.config import ENV, Endpoint
from goldenloop.store import Store

VARIABLES = ("input", "metadata")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
# Request fields a target may not set through ``parameters``: the run owns them.
_RESERVED = {"model", "messages", "stream", "n", "temperature", "max_tokens"}


class TargetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    description: str = ""
    kind: Literal["endpoint", "app"] = "endpoint"
    model: str | None = None
    system: str = ""
    template: str | None = None
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=1, le=32_000)
    parameters: dict[str, Any] = Field(default_factory=dict)
    entry: str | None = None
    database: str | None = None      # the known database of the sql scorer (DuckDB or SQLite)
    # The production prompt version this prompt ships as (spans' prompt_version), so a release
    # can be shown beside the runs that tested it (experiments.releases).
    prompt_version: str | None = Field(default=None, min_length=1, max_length=200)
    endpoint: Endpoint = Endpoint()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("use lower-case letters, digits, '.', '_' or '-' (at most 63)")
        return v

    @field_validator("template", "system")
    @classmethod
    def _variables(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            used = meta.find_undeclared_variables(ENV.parse(v))
        except TemplateSyntaxError as exc:
            raise ValueError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
        unknown = sorted(used - set(VARIABLES))
        if unknown:
            raise ValueError(f"unknown variables {', '.join(unknown)}; known: {', '.join(VARIABLES)}")
        return v

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = sorted(set(v) & _RESERVED)
        if bad:
            raise ValueError(f"{', '.join(bad)} cannot be parameters (set them as fields)")
        return v

    @model_validator(mode="after")
    def _kind(self) -> TargetSpec:
        if self.kind == "endpoint" and not self.model:
            raise ValueError("an endpoint target needs a model")
        if self.kind == "app" and not (self.entry and _ENTRY.match(self.entry)):
            raise ValueError("an app target needs entry: module:function")
        return self

    def content(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"description", "endpoint"}, exclude_none=True)


class Target(BaseModel):
    """A validated target and where it came from."""

    model_config = ConfigDict(frozen=True)
    spec: TargetSpec
    origin: str = "user"
    path: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def version(self) -> str:
        text = json.dumps(self.spec.content(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def messages(self, item: dict[str, Any]) -> list[dict[str, str]]:
        """The chat messages sent for one item."""
        s = self.spec
        values = {"input": item.get("input") or "", "metadata": item.get("metadata") or {}}
        out = []
        system = _compiled(s.system).render(values).strip() if s.system else ""
        if s.template is None and item.get("messages"):
            given = [{"role": m["role"], "content": m["content"]} for m in item["messages"]]
            if system and not any(m["role"] == "system" for m in given):
                out.append({"role": "system", "content": system})
            return out + given
        if system:
            out.append({"role": "system", "content": system})
        user = _compiled(s.template or "{{ input }}").render(values)
        return [*out, {"role": "user", "content": user}]

    def request(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        s = self.spec
        return {**s.parameters, "model": s.model, "messages": messages,
                "temperature": s.temperature, "max_tokens": s.max_tokens}

    def entry_point(self) -> Callable[..., Any]:
        module, _, func = (self.spec.entry or "").partition(":")
        try:
            fn = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError) as exc:
            raise ExperimentError(f"target {self.name}: entry {self.spec.entry!r} cannot be "
                                  f"imported: {exc}") from None
        if not callable(fn):
            raise ExperimentError(f"target {self.name}: entry {self.spec.entry!r} is not callable")
        return fn


_TEMPLATES: dict[str, Any] = {}


def _compiled(source: str):
    if source not in _TEMPLATES:
        _TEMPLATES[source] = ENV.from_string(source)
    return _TEMPLATES[source]


def parse(data: Any, source: str) -> TargetSpec:
    if not isinstance(data, dict):
        raise ExperimentError(f"{source}: a target is a mapping with name, model and template "
                              "(or kind: app with entry)")
    try:
        return TargetSpec.model_validate(data)
    except ValidationError as exc:
        raise ExperimentError("\n".join(
            f"{source}: {'.'.join(str(p) for p in e['loc']) or '<target>'}: "
            f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())) from None


def load_file(path: Path, origin: str = "user") -> Target:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ExperimentError(f"{path.name}: cannot read: {exc}") from None
    return Target(spec=parse(data, path.name), origin=origin, path=path.name)


def user_dir(store: Store) -> Path:
    return store.path.parent / "targets"


def available(store: Store) -> dict[str, Target]:
    folder = user_dir(store)
    found = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")) if folder.is_dir() else []
    out: dict[str, Target] = {}
    for p in found:
        t = load_file(p)
        out[t.name] = t
    return out


def get(store: Store, name_or_path: str) -> Target:
    """A target by name (``targets/`` beside the database) or from a YAML file path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return load_file(p)
    found = available(store)
    if name_or_path not in found:
        raise ExperimentError(f"no target named {name_or_path!r} in {user_dir(store).name}/ "
                              f"beside the database; known: {', '.join(found) or 'none'}")
    return found[name_or_path]
