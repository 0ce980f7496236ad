"""`goldenloop serve` checks its sign-in options before it starts anything: a missing or
broken secrets file, or a --lead that roles.yaml contradicts, stop it with a message and
leave no database behind."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace


def _serve(tmp_path, *args):
    """`goldenloop serve` as users run it; what it printed and where its database would be."""
    db = tmp_path / "data" / "goldenloop.duckdb"
    done = subprocess.run([sys.executable, "-m", "goldenloop.cli", "serve", "--db", str(db),
                           "--no-demo", "--port", "1", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    return SimpleNamespace(exit_code=done.returncode, output=done.stdout + done.stderr), db


def test_missing_secrets_file_stops_the_start(tmp_path):
    result, db = _serve(tmp_path, "--secrets", str(tmp_path / "nowhere.toml"))
    assert result.exit_code != 0
    assert "nowhere.toml: no such file" in result.output
    assert not db.exists()


def test_broken_sign_in_settings_stop_the_start(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "http://127.0.0.1:8501/oauth2callback"\n')
    result, db = _serve(tmp_path, "--secrets", str(secrets))
    assert result.exit_code != 0
    assert "[auth] is missing cookie_secret, client_id" in result.output
    assert not db.exists()


def test_lead_that_roles_yaml_contradicts_stops_the_start(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "roles.yaml").write_text("leads: [chloe]\n")
    result, db = _serve(tmp_path, "--lead", "Ana")
    assert result.exit_code != 0
    assert "--lead ana:" in result.output and "does not name them a lead" in result.output
    assert (tmp_path / "data" / "roles.yaml").read_text() == "leads: [chloe]\n"
    assert not db.exists()


def test_lead_names_the_first_lead_and_the_start_says_sign_in_is_off(tmp_path):
    import browser_support as bs
    import yaml

    from goldenloop.schema import open_store
    from goldenloop.store import audit

    db = tmp_path / "data" / "goldenloop.duckdb"
    port = bs.free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*bs.app_command(db, port), "--lead", " Ana "], cwd=tmp_path,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        bs.wait_healthy(f"http://127.0.0.1:{port}", proc, log)
    finally:
        bs.stop(proc)
    said = log.read_text()
    assert "ana is the lead: roles.yaml written beside the database" in said
    assert "sign-in is off (honour system)" in said
    data = yaml.safe_load((db.parent / "roles.yaml").read_text())
    assert data["leads"] == ["ana"] and data["bootstrap"].startswith("goldenloop serve --lead")
    with open_store(db) as s:
        assert list(audit.entries(s, action="roles.bootstrap")["actor"]) == ["ana"]
