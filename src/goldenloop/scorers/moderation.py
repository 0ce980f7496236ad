"""Optional moderation: OpenAI's moderation endpoint, or any server that speaks its API,
as a stronger safety signal than the offline offensive-language model.

Off unless configured: a small YAML or JSON file (``moderation.yaml`` beside the database,
or one named explicitly) holding the base URL, the model and the *name* of the environment
variable that holds the API key — never the key itself. Texts leave the machine when this is
on, so it is an explicit choice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from goldenloop.errors import GoldenloopError

NAME = "moderation"
CONFIG_FILE = "moderation.yaml"


class ModerationError(GoldenloopError):
    """The moderation endpoint is misconfigured or failed."""


class ModerationConfig(BaseModel):
    """Where and how to call the moderation endpoint."""

    model_config = ConfigDict(extra="forbid")  # an `api_key:` line is refused, not ignored

    base_url: str | None = None  # None: OpenAI's own endpoint
    model: str = "omni-moderation-latest"
    api_key_env: str = "OPENAI_API_KEY"  # the variable's name; the key stays in the environment
    batch_size: int = Field(32, ge=1, le=256)  # texts per request
    max_spans_per_run: int = Field(2_000, ge=1)  # bounds the cost and the time of one job
    timeout_s: float = Field(30.0, gt=0)

    @classmethod
    def load(cls, path: str | Path) -> ModerationConfig:
        p, data = Path(path), None
        try:
            data = yaml.safe_load(p.read_text()) or {}
            return cls.model_validate(data)
        except OSError as exc:
            raise ModerationError(f"cannot read the moderation config {p}: {exc}") from exc
        except (yaml.YAMLError, ValidationError) as exc:
            hint = ""
            if isinstance(data, dict) and "api_key" in data:
                hint = " (put the key in an environment variable and name it in api_key_env)"
            raise ModerationError(f"bad moderation config {p}: {exc}{hint}") from exc


def default_config_path(db_path: str | Path) -> Path:
    return Path(db_path).parent / CONFIG_FILE


def find_config(db_path: str | Path, explicit: str | Path | None = None) -> ModerationConfig | None:
    """The explicit config file, else ``moderation.yaml`` beside the database, else None."""
    if explicit:
        return ModerationConfig.load(explicit)
    beside = default_config_path(db_path)
    return ModerationConfig.load(beside) if beside.is_file() else None


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    max_score: float  # highest category score
    categories: tuple[str, ...]  # the flagged categories, by their API names


class Moderator:
    """One client for a run of requests."""

    def __init__(self, config: ModerationConfig):
        key = os.environ.get(config.api_key_env)
        if not key:
            raise ModerationError(f"moderation is configured but the environment variable "
                                  f"{config.api_key_env} (its API key) is not set")
        from openai import OpenAI  # imported here: the offline scorers never need it

        self.config = config
        self.client = OpenAI(api_key=key, base_url=config.base_url, timeout=config.timeout_s,
                             max_retries=2)
        self.model_answered: str | None = None  # the model version that answered

    def check(self, texts: list[str]) -> list[Verdict]:
        """One verdict per text, in order (one request per ``batch_size`` texts)."""
        out: list[Verdict] = []
        step = self.config.batch_size
        for i in range(0, len(texts), step):
            out.extend(self._request(texts[i:i + step]))
        return out

    def _request(self, texts: list[str]) -> list[Verdict]:
        import openai

        try:
            resp = self.client.moderations.create(model=self.config.model, input=texts)
        except openai.APIError as exc:  # its message names the status, never the key
            raise ModerationError(f"moderation endpoint failed: {type(exc).__name__}: "
                                  f"{exc}") from exc
        if len(resp.results) != len(texts):
            raise ModerationError(f"moderation endpoint answered {len(resp.results)} results "
                                  f"for {len(texts)} texts")
        self.model_answered = resp.model or self.config.model
        return [_verdict(r) for r in resp.results]

    @property
    def version(self) -> str:
        return f"openai-moderation {self.model_answered or self.config.model}"


def _verdict(result) -> Verdict:
    data = result.model_dump(by_alias=True)
    scores = [float(v) for v in (data.get("category_scores") or {}).values()
              if isinstance(v, int | float)]
    flagged = tuple(sorted(k for k, v in (data.get("categories") or {}).items() if v is True))
    return Verdict(bool(data.get("flagged")), max(scores, default=0.0), flagged)


def categories_json(user: Verdict | None, output: Verdict | None) -> str:
    return json.dumps({"user": list(user.categories) if user else None,
                       "output": list(output.categories) if output else None})
