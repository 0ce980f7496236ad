"""Who a command acts as: the CLI's sign-in.

Every command that writes names who does it: ``--by NAME`` (``--author`` where a command
already had that option), else ``$GOLDENLOOP_USER``, else the login name of the operating
system user. That name is set as the acting user before the command runs, so the library's
role checks (``access.roles.guard``/``require``) and its audit entries treat it as they treat
the app's signed-in user; a job handed to a running server carries it (``submitted_by``) and
the server checks it there. With no ``roles.yaml`` the first name to do a lead's work becomes
the lead (``roles.require``), as the first name used in the app does.

With sign-in configured for the app (the secrets files Streamlit reads, or the file named by
``$GOLDENLOOP_SECRETS``), names are the identities people sign in with, so the CLI acts only
as a name ``roles.yaml`` lists, and does not name the first lead (the first to sign in, or
``goldenloop serve --lead``, does).

``install`` adds ``--by`` to each command of ``WRITES`` (one list, so a new command is
classified once; ``tests/unit/test_cli_identity.py`` fails on a command in neither list).
"""

from __future__ import annotations

import functools
import getpass
import inspect
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from goldenloop.access import roles, signin

__all__ = ["ENV", "READS", "WRITES", "ByOption", "install", "resolve", "who"]

ENV = "GOLDENLOOP_USER"
SECRETS_ENV = "GOLDENLOOP_SECRETS"

ByOption = Annotated[str | None, typer.Option(
    "--by", help="Who does this (default: $GOLDENLOOP_USER, else your login name): checked "
    "against roles.yaml and kept in the audit log.")]

A = roles.Action
# Commands that write, with the action the library checks for them (None: the owner's own
# kind of work run now, named in the audit log but not refused: scoring, detection, checks).
WRITES: dict[str, roles.Action | None] = {
    "import": A.IMPORT, "demo": A.IMPORT, "score": None, "import-spans": A.IMPORT,
    "migrate-spans": A.OPERATE, "backup": A.OPERATE, "restore": A.OPERATE, "forget": A.OPERATE,
    "retention set": A.OPERATE, "retention clear": A.OPERATE, "retention run": A.OPERATE,
    "judge run": A.RUN_JUDGE, "judge online": A.EDIT_JUDGE,
    "golden build": A.EXPORT, "golden export": A.EXPORT, "golden exclude": A.EXPORT,
    "anomalies detect": None, "alerts check": None, "alerts test": None,
    "experiment import": A.IMPORT, "experiment run": A.EXPERIMENT,
    "experiment baseline": A.EXPERIMENT, "experiment canary add": A.EXPERIMENT,
    "experiment canary run": A.EXPERIMENT, "experiment canary remove": A.EXPERIMENT,
    "argilla push": A.CREATE_QUEUE, "argilla pull": A.CREATE_QUEUE,
}
# Commands that only read, run the owner, or write nothing of the store's own (the receiver
# writes spool files as any producer does; a snapshot republishes what is there).
READS = frozenset({
    "serve", "collect", "snapshot", "jobs", "status", "quarantine", "audit", "retention show",
    "spans-ddl", "judge list", "judge runs", "judge failures", "judge estimate", "golden diff",
    "golden list", "golden excluded", "agreement orders", "agreement levels",
    "agreement report", "anomalies list", "alerts list", "experiment datasets",
    "experiment targets", "experiment runs", "experiment compare", "experiment live",
    "experiment show", "experiment canary list", "experiment canary series",
    "experiment canary changes", "argilla status",
})


def resolve(given: str | None) -> tuple[str, str]:
    """(the name, where it came from): ``--by``, ``$GOLDENLOOP_USER`` or the login name."""
    if given is not None and str(given).strip():
        return roles.normalize_name(given), "--by"
    env = os.environ.get(ENV, "")
    if env.strip():
        return roles.normalize_name(env), f"${ENV}"
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        raise roles.PermissionDenied("no user name: give --by NAME or set GOLDENLOOP_USER") from None
    return roles.normalize_name(login), "your login name"


def who(given: str | None) -> str:
    """The name a command acts as (see ``resolve``)."""
    return resolve(given)[0]


def _sign_in_on() -> bool:
    named = os.environ.get(SECRETS_ENV, "").strip()
    try:
        return signin.load(Path(named) if named else signin.default_files()).on
    except signin.SignInError:
        return True  # a broken sign-in setting still means sign-in was meant: stay strict


def check_sign_in(data_dir: Path, name: str, how: str) -> None:
    """With sign-in on, the CLI acts only as a name ``roles.yaml`` lists (see module)."""
    if not _sign_in_on():
        return
    found = roles.load(data_dir)
    if not found.configured:
        raise roles.PermissionDenied(
            "sign-in is on and there is no roles.yaml yet: the first lead is the first person "
            "to sign in to the app (or `goldenloop serve --lead NAME`), not a command")
    if name not in found.leads | (found.reviewers or frozenset()):
        raise roles.PermissionDenied(
            f"sign-in is on: commands act only as a name in roles.yaml, and {name} ({how}) is "
            "not there: give --by NAME or set GOLDENLOOP_USER")


def _data_dir(db: str | None) -> Path:
    from goldenloop.config import resolve_paths

    return resolve_paths(db).data_dir


def _wrap(fn: Callable[..., Any], action: roles.Action | None) -> Callable[..., Any]:
    """``fn`` acting as the resolved identity; with ``--by`` added unless it has its own."""
    sig = inspect.signature(fn, eval_str=True)  # Typer reads the options from this one
    own = next((p for p in ("by", "author") if p in sig.parameters), None)

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        given = kwargs.get(own) if own else kwargs.pop("by", None)
        name, how = resolve(given)
        data_dir = _data_dir(kwargs.get("db"))
        check_sign_in(data_dir, name, how)
        if own:
            kwargs[own] = name
        had_roles = roles.roles_path(data_dir).exists()
        try:
            with roles.acting(name):  # reset after: an in-process caller (tests) keeps its own
                return fn(*args, **kwargs)
        except roles.PermissionDenied as exc:
            if how == "--by":
                raise
            raise roles.PermissionDenied(f"{exc}; you act as {name} ({how}): name yourself "
                                         "with --by NAME or GOLDENLOOP_USER") from None
        finally:
            if not had_roles and roles.roles_path(data_dir).exists():
                _say_bootstrap(data_dir, name, how)

    if own is None:
        extra = inspect.Parameter("by", inspect.Parameter.KEYWORD_ONLY, default=None,
                                  annotation=ByOption)
        run.__signature__ = sig.replace(parameters=[*sig.parameters.values(), extra])
        run.__annotations__ = {**getattr(fn, "__annotations__", {}), "by": ByOption}
    run.identity_action = action  # what the command's writes are checked for (tests, docs)
    return run


def _say_bootstrap(data_dir: Path, name: str, how: str) -> None:
    """This command named the first lead: say who, once (on stderr: output stays the same)."""
    try:
        leads = roles.load(data_dir).leads
    except roles.RolesError:
        return
    if leads == {name}:
        typer.echo(f"No roles.yaml existed: {name} ({how}) is now the lead, written in "
                   f"{roles.roles_path(data_dir)}; in the app, use that name to act as the lead.",
                   err=True)


def commands(app: typer.Typer, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(``"group command"``, its Typer CommandInfo) for every command of ``app``."""
    for info in app.registered_commands:
        name = info.name or typer.main.get_command_name(info.callback.__name__)
        yield " ".join((*prefix, name)), info
    for group in app.registered_groups:
        yield from commands(group.typer_instance, (*prefix, group.name))


def install(app: typer.Typer) -> None:
    """Give every command of ``WRITES`` its identity (``--by``, set as the acting user)."""
    for name, info in commands(app):
        if name in WRITES and not hasattr(info.callback, "identity_action"):
            info.callback = _wrap(info.callback, WRITES[name])
