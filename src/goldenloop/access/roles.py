"""Reviewer identity and roles: an honour system, read from ``roles.yaml`` beside the database.

Who a person is comes from the app's sign-in (goldenloop.access.signin) or, with sign-in off,
from the name they type (an honour system); the CLI passes ``--by``. This module says what
that identity may do, and the library functions that write check it (``require``).

``roles.yaml`` (optional)::

    leads: [ana]               # create queues, edit rubrics, seed gold items, export, alerts
    reviewers: [ben, chloe]    # grade; leave the key out to let any name grade

Without the file there is no lead yet, and never "everyone leads": the first lead is named
at start (``goldenloop serve --lead NAME``), or is the first person to sign in to the app, or
the first name to do a lead's work; that writes ``roles.yaml`` naming them (``bootstrap``
says how) and the audit log keeps it. Until then any name may grade. With the file, a name
listed under ``leads`` is a lead; a name under ``reviewers`` (or any other name, when that
key is absent) is a reviewer; any other name has no role. Names are identities after
trimming spaces and lower-casing: grades, claims and progress are kept under that form.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from goldenloop.errors import GoldenloopError
from goldenloop.store import audit

__all__ = ["Action", "PermissionDenied", "Role", "Roles", "RolesError", "acting", "actor",
           "bootstrap_lead", "can", "change", "claim_first_lead", "guard", "load", "normalize_name",
           "require", "roles_path", "set_actor"]

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
    MANAGE_ROLES = "manage_roles"
    IMPORT = "import"  # spans, grades and test sets from files
    RUN_JUDGE = "run_judge"
    EXPERIMENT = "experiment"  # test runs, baselines, canary suites
    OPERATE = "operate"  # backup, restore, deletion by user, retention


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
    bootstrap: str | None = None  # how the first lead was named, when goldenloop wrote the file


@dataclass(frozen=True)
class Roles:
    """Who may do what. ``configured`` is False when there is no roles file (no lead yet)."""

    leads: frozenset[str] = frozenset()
    reviewers: frozenset[str] | None = None  # None: any name may grade
    configured: bool = False
    bootstrap: str | None = None

    def role_of(self, name: str) -> Role | None:
        key = normalize_name(name)
        if key in self.leads:
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
    """Roles from ``roles.yaml`` in ``data_dir``; no lead (anyone grades) when it is absent."""
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
    return Roles(leads=keys(parsed.leads), reviewers=reviewers, configured=True,
                 bootstrap=parsed.bootstrap)


def bootstrap_lead(data_dir: Path, name: str, how: str) -> bool:
    """Name the first lead: write ``roles.yaml`` with ``name`` as its only lead, unless a roles
    file exists (then it decides and nothing changes). True when this call wrote it.

    The file appears whole or not at all, and only once: it is written under a temporary name
    and hard-linked into place, which fails when another first user got there first."""
    clean = normalize_name(name)
    path = roles_path(data_dir)
    if path.exists():
        return False
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = ("# Written by goldenloop: no roles file existed, so the first lead was named here.\n"
            "# Add leads, or list who may grade under `reviewers:`.\n"
            + yaml.safe_dump({"leads": [clean], "bootstrap": f"{how}, {when}"},
                             allow_unicode=True, sort_keys=False))
    tmp = path.with_name(f".{FILE_NAME}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as exc:
        raise RolesError(f"cannot write {path.name}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _data_dir(store) -> Path:
    return Path(store.path).parent


def can(store, name: str, action: Action) -> bool:
    return load(_data_dir(store)).can(name, action)


def require(store, name: str, action: Action) -> str:
    """The normalized name, or PermissionDenied when its role does not allow ``action``.

    With no roles file, the first name to do a lead's work becomes the lead (audited)."""
    clean = normalize_name(name)
    if action not in _REVIEWER_ACTIONS and not roles_path(_data_dir(store)).exists():
        claim_first_lead(store, clean, f"the first to {action.value.replace('_', ' ')}")
    if not can(store, clean, action):
        _log(store, clean, "access.denied", action.value, {})  # a lead sees who tried what
        needed = Role.REVIEWER if action in _REVIEWER_ACTIONS else Role.LEAD
        raise PermissionDenied(f"{clean} may not {action.value.replace('_', ' ')}: that needs "
                               f"the {needed.value} role (a lead adds names to {FILE_NAME})")
    return clean


# Who is acting in this thread: set once at each edge (the app per page run, a job from its
# submitter), so library functions without a name parameter can still check a role. Unset
# (None) means in-process code with no edge in front of it (a script holding the file, the
# owner's schedule): it holds the database anyway, so there is nobody to refuse. "" means an
# edge with nobody named (an anonymous visitor): every guarded write is refused.
_ACTOR = audit.ACTOR  # one variable: the audit log names the same person


def set_actor(name: str | None) -> None:
    """Name who acts in this thread from now on (the app, at the top of each page run)."""
    _ACTOR.set(None if name is None else str(name))


def actor() -> str | None:
    return _ACTOR.get()


@contextmanager
def acting(name: str | None) -> Iterator[None]:
    """Name who acts for the writes made inside (a job run for its submitter)."""
    token = _ACTOR.set(None if name is None else str(name))
    try:
        yield
    finally:
        _ACTOR.reset(token)


def guard(store, action: Action, name: str | None = None) -> str | None:
    """The one-line check at the top of each library function that writes: ``name`` (when the
    function takes one) or the acting user must be allowed ``action`` (``require``). None when
    neither names anyone and no edge set an actor (see ``_ACTOR``)."""
    who = name if name is not None else _ACTOR.get()
    if who is None:
        return None
    if not str(who).strip():
        _log(store, "(nobody)", "access.denied", action.value, {})
        raise PermissionDenied(f"nobody may {action.value.replace('_', ' ')} without a name: "
                               "sign in (or, with sign-in off, pick your name) first")
    return require(store, who, action)


def claim_first_lead(store, name: str, how: str) -> bool:
    """``bootstrap_lead`` beside the store's database, recorded in its audit log."""
    if not bootstrap_lead(_data_dir(store), name, how):
        return False
    clean = normalize_name(name)
    _log(store, clean, "roles.bootstrap", FILE_NAME, {"lead": clean, "how": how})
    return True


def _log(store, actor: str, action: str, target: str, details: dict) -> None:
    if getattr(store, "read_only", True):  # a snapshot reader records nothing
        return
    # The decision stands when the log cannot be written (writes paused on a full disk): the
    # refusal is raised anyway, and a bootstrap is written in roles.yaml itself.
    with suppress(GoldenloopError):
        store.write(lambda cur: audit.record(cur, actor, action, target, details))


def change(store, by: str, leads: list[str], reviewers: list[str] | None, *,
           expected: Roles | None = None) -> Roles:
    """A lead rewrites ``roles.yaml``: these leads, and these reviewers (None: any name may
    grade). Refused when ``expected`` (what the lead was shown) is no longer what the file
    says, when no lead would remain, or when ``by`` would demote themselves (another lead
    can). Audited with what was added and removed. Comments in the file are not kept."""
    who = require(store, by, Action.MANAGE_ROLES)
    data_dir = _data_dir(store)
    before = load(data_dir)
    if expected is not None and (expected.leads, expected.reviewers) != (before.leads,
                                                                        before.reviewers):
        raise RolesError(f"{FILE_NAME} changed since you opened it: look again and redo the change")
    new_leads = sorted({normalize_name(n) for n in leads})
    new_reviewers = None if reviewers is None else sorted({normalize_name(n) for n in reviewers})
    if not new_leads:
        raise RolesError("at least one lead must remain")
    if who not in new_leads:
        raise RolesError(f"{who} cannot remove their own lead role: another lead can")
    doc = {"leads": new_leads}
    if new_reviewers is not None:
        doc["reviewers"] = new_reviewers
    if before.bootstrap:
        doc["bootstrap"] = before.bootstrap
    path = roles_path(data_dir)
    tmp = path.with_name(f".{FILE_NAME}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RolesError(f"cannot write {path.name}: {exc.strerror or exc}") from None
    after = load(data_dir)
    _log(store, who, "roles.change", FILE_NAME, _difference(before, after))
    return after


def _difference(before: Roles, after: Roles) -> dict:
    def delta(old: frozenset[str] | None, new: frozenset[str] | None) -> tuple[list, list]:
        old, new = old or frozenset(), new or frozenset()
        return sorted(new - old), sorted(old - new)

    leads_added, leads_removed = delta(before.leads, after.leads)
    reviewers_added, reviewers_removed = delta(before.reviewers, after.reviewers)
    return {"leads_added": leads_added, "leads_removed": leads_removed,
            "reviewers_added": reviewers_added, "reviewers_removed": reviewers_removed,
            "any_name_grades": after.reviewers is None}
