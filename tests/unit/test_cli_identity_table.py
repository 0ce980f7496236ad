"""The CLI's identity: every command is classified as writing or reading, each writing command
takes --by (or its own --author) and acts as the resolved name while it runs, the name comes
from --by, then $GOLDENLOOP_USER, then the login name, and with sign-in on only a name in
roles.yaml may act. Real subprocess runs: tests/system/test_cli_identity.py."""

from __future__ import annotations

import getpass

import pytest
import typer
import typer.main

from goldenloop import cli_identity as ci
from goldenloop.access import roles
from goldenloop.cli import app


def test_every_command_is_classified_and_writers_take_by():
    names = {name for name, _ in ci.commands(app)}
    assert names - set(ci.WRITES) - ci.READS == set(), "classify new commands in cli_identity"
    assert (set(ci.WRITES) | ci.READS) - names == set(), "a classified command no longer exists"
    assert not set(ci.WRITES) & ci.READS
    tree = typer.main.get_command(app)
    for name in ci.WRITES:
        cmd = tree
        for part in name.split():
            cmd = cmd.commands[part]
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        assert "--by" in opts, name
    report = tree.commands["agreement"].commands["report"]  # a reader's own --by (a grouping)
    assert not hasattr(next(i for n, i in ci.commands(app) if n == "agreement report").callback,
                       "identity_action")
    assert "--by" in {o for p in report.params for o in getattr(p, "opts", [])}


def test_the_name_comes_from_by_then_the_environment_then_the_login(monkeypatch):
    monkeypatch.setenv(ci.ENV, "  Olga ")
    assert ci.resolve(" Ana ") == ("ana", "--by")
    assert ci.resolve(None) == ("olga", "$GOLDENLOOP_USER")
    monkeypatch.delenv(ci.ENV)
    assert ci.resolve("") == (roles.normalize_name(getpass.getuser()), "your login name")


def _secrets(tmp_path, monkeypatch, text: str):
    f = tmp_path / "secrets.toml"
    f.write_text(text)
    monkeypatch.setenv(ci.SECRETS_ENV, str(f))


PROXY = '[trusted_proxy]\nheader = "X-Email"\naddresses = ["127.0.0.1"]\n'


def test_with_sign_in_on_only_names_in_roles_yaml_act(tmp_path, monkeypatch):
    monkeypatch.delenv(ci.SECRETS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here or at home
    monkeypatch.setenv("HOME", str(tmp_path))
    ci.check_sign_in(tmp_path, "anyone", "--by")  # sign-in off: the honour system
    _secrets(tmp_path, monkeypatch, PROXY)
    with pytest.raises(roles.PermissionDenied, match=r"no roles\.yaml yet"):
        ci.check_sign_in(tmp_path, "root", "your login name")
    (tmp_path / "roles.yaml").write_text("leads: [ana@x.org]\nreviewers: [ben@x.org]\n")
    ci.check_sign_in(tmp_path, "ana@x.org", "--by")
    ci.check_sign_in(tmp_path, "ben@x.org", "--by")
    with pytest.raises(roles.PermissionDenied, match=r"root \(your login name\) is not there"):
        ci.check_sign_in(tmp_path, "root", "your login name")
    _secrets(tmp_path, monkeypatch, "[auth]\nredirect_uri = 'nope'\n")  # broken: still strict
    with pytest.raises(roles.PermissionDenied):
        ci.check_sign_in(tmp_path, "root", "--by")


def test_a_wrapped_command_acts_as_the_name_only_while_it_runs(tmp_path, monkeypatch):
    monkeypatch.delenv(ci.SECRETS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    monkeypatch.setenv("HOME", str(tmp_path))
    seen = []
    small = typer.Typer()
    small.callback()(lambda: None)  # a group, so the command keeps its name

    @small.command("import")
    def import_(db: str | None = None) -> None:
        seen.append(roles.actor())
        raise roles.PermissionDenied("x may not import: that needs the lead role")

    ci.install(small)
    from typer.testing import CliRunner

    r = CliRunner().invoke(small, ["import", "--by", "Ana", "--db", str(tmp_path / "g.duckdb")])
    assert isinstance(r.exception, roles.PermissionDenied) and "you act as" not in str(r.exception)
    monkeypatch.setenv(ci.ENV, "olga")
    r = CliRunner().invoke(small, ["import", "--db", str(tmp_path / "g.duckdb")])
    assert "you act as olga ($GOLDENLOOP_USER)" in str(r.exception)
    assert seen == ["ana", "olga"] and roles.actor() is None  # reset after the command
