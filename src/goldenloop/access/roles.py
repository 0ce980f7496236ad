"""Reviewer identity and roles: an honour system, read from ``roles.yaml`` beside the database.

There is no login provider: a person says who they are by typing or choosing a name, and the
library trusts it. Roles only keep honest people from doing a lead's work by mistake.

``roles.yaml`` (optional)::

    leads: [ana]               # create queues, edit rubrics, seed gold items, export, alerts
    reviewers: [ben, chloe]    # grade; leave the key out to let any name grade

Without the file every name is a lead: a single user or a small trusting team can use
everything at once, and adding the file is how a team narrows it down. With the file, a
name listed under ``leads`` is a lead; a name under ``reviewers`` (or any other name, when
that key is absent) is a reviewer; any other name has no role. Names are identities after
trimming spaces and lower-casing: grades, claims and progress are kept under that form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from goldenloop.errors import GoldenloopError

__all__ = ["Action", "PermissionDenied", "Role", "Roles", "RolesError", "can", "load",
           "normalize_name", "require", "roles_path"]

FILE_NAME = "roles.yaml"
_MAX_NAME = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RolesError(GoldenloopError):
    """The roles file cannot be read, or a name is unusable."""


class PermissionDenied(GoldenloopError):
    """A name tried an action its role does not allow."""


class Role(StrEnum):
    REVIEWER = "reviewer"
    LEAD = "lead"


class Action(StrEnum):
    GRADE = "grade"
    CREATE_QUEUE = "create_queue"
    EDIT_RUBRIC = "edit_rubric"
    SEED_GOLD = "seed_gold"
    SEE_GOLD_ACCURACY = "see_gold_accuracy"
    EXPORT = "export"
    MANAGE_ALERTS = "manage_alerts"
    EDIT_JUDGE = "edit_judge"


_REVIEWER_ACTIONS = frozenset({Action.GRADE})


def normalize_name(name: str) -> str:
    """A reviewer's identity: trimmed, inner spaces collapsed, lower case (so "Ana" and
    "ana " are one reviewer, who never gets the same item twice), no control characters."""
    clean = " ".join(str(name or "").split()).casefold()
    if not clean:
        raise RolesError("a reviewer name is required")
    if len(clean) > _MAX_NAME or _CONTROL.search(clean):
        raise RolesError(f"a reviewer name has at most {_MAX_NAME} printable characters")
    return clean


class _RolesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    leads: list[str] = []
    reviewers: list[str] | None = None


@dataclass(frozen=True)
class Roles:
    """Who may do what. ``configured`` is False when there is no roles file (everyone leads)."""

    leads: frozenset[str] = frozenset()
    reviewers: frozenset[str] | None = None  # None: any name may grade
    configured: bool = False

    def role_of(self, name: str) -> Role | None:
        key = normalize_name(name)
        if not self.configured or key in self.leads:
            return Role.LEAD
        if self.reviewers is None or key in self.reviewers:
            return Role.REVIEWER
        return None

    def can(self, name: str, action: Action) -> bool:
        role = self.role_of(name)
        return role is Role.LEAD or (role is Role.REVIEWER and action in _REVIEWER_ACTIONS)


def roles_path(data_dir: Path) -> Path:
    return Path(data_dir) / FILE_NAME


def load(data_dir: Path) -> Roles:
    """Roles from ``roles.yaml`` in ``data_dir``; everyone leads when the file is absent."""
    path = roles_path(data_dir)
    if not path.is_file():
        return Roles()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        parsed = _RolesFile.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise RolesError(f"{path.name}: cannot read: {exc}") from None
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<file>'}: {e['msg']}"
                          for e in exc.errors())
        raise RolesError(f"{path.name}: {where}") from None

    def keys(names: list[str]) -> frozenset[str]:
        return frozenset(normalize_name(n) for n in names)

    reviewers = None if parsed.reviewers is None else keys(parsed.reviewers)
    return Roles(leads=keys(parsed.leads), reviewers=reviewers, configured=True)


def _data_dir(store) -> Path:
    return Path(store.path).parent


def can(store, name: str, action: Action) -> bool:
    return load(_data_dir(store)).can(name, action)


def require(store, name: str, action: Action) -> str:
    """The normalized name, or PermissionDenied when its role does not allow ``action``."""
    clean = normalize_name(name)
    if not can(store, clean, action):
        raise PermissionDenied(f"{clean} may not {action.value.replace('_', ' ')}: "
                               f"ask a lead to add them to {FILE_NAME}")
    return clean
