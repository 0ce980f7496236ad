"""Sign-in in the app (AppTest): with sign-in off every page says so and a typed name is the
identity; with OpenID Connect configured nobody types a name, an unsigned session sees only
the sign-in screen, and the signed-in e-mail is the reviewer; the first identity becomes the
lead when there is no roles.yaml; a broken configuration shows no page."""

from __future__ import annotations

import pytest
import yaml
from app_support import APP_DIR, app_page, page_path
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from goldenloop.schema import open_store
from goldenloop.store import audit

OIDC = """[auth]
redirect_uri = "http://127.0.0.1:8501/oauth2callback"
cookie_secret = "0123456789abcdef0123456789abcdef-test"
client_id = "goldenloop"
client_secret = "s3cret"
server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"
"""


@pytest.fixture
def secrets_file(tmp_path, monkeypatch):
    """Point Streamlit's secrets files (what st.login reads) at a test file."""
    path = tmp_path / "secrets.toml"
    saved = st_config.get_option("secrets.files")
    st_config.set_option("secrets.files", [str(path)])
    yield path
    st_config.set_option("secrets.files", saved)


def _run(view: str | None, user: dict, params: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP_DIR / "streamlit_app.py"), default_timeout=60)
    at.user = user
    for k, v in (params or {}).items():
        at.query_params[k] = v
    if view:
        at.switch_page(page_path(view))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    return "\n".join([t.value for t in at.sidebar.text] + [t.value for t in at.text]
                     + [c.value for c in at.sidebar.caption])


@pytest.mark.parametrize("view", [None, "grade", "monitor"])
def test_sign_in_off_is_said_on_every_page(app_db, view):
    at = app_page(view, params={"reviewer": "ana"})
    assert "Sign-in is off" in _texts(at)
    assert [t.label for t in at.sidebar.text_input] == ["Your name"]


def test_first_typed_name_leads_and_the_next_one_reviews(app_db):
    at = app_page("queues", params={"reviewer": "Ana"})
    assert "ana · lead" in _texts(at)
    assert "Lead since the first name used in the app" in _texts(at)
    assert yaml.safe_load((app_db.parent / "roles.yaml").read_text())["leads"] == ["ana"]
    at = app_page("queues", params={"reviewer": "ben"})
    assert "ben · reviewer" in _texts(at)
    assert not [e for e in at.expander if e.label == "Create a queue"]


def test_unsigned_session_sees_only_the_sign_in_screen(app_db, secrets_file):
    secrets_file.write_text(OIDC)
    at = _run("grade", {"is_logged_in": False}, params={"reviewer": "ana"})
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.sidebar.text_input  # nobody types a name
    assert "Grade" not in [t.value for t in at.title]
    assert not (app_db.parent / "roles.yaml").exists()


def test_signed_in_email_is_the_identity_and_first_becomes_lead(app_db, secrets_file):
    secrets_file.write_text(OIDC)
    ana = {"is_logged_in": True, "email": "Ana@Example.org", "sub": "ana"}
    at = _run("queues", ana, params={"reviewer": "mallory"})  # the URL names nobody now
    texts = _texts(at)
    assert "ana@example.org · lead" in texts and "mallory" not in texts
    assert "Lead since the first to sign in" in texts
    assert "Sign-in is off" not in texts
    assert not at.sidebar.text_input
    assert [b.label for b in at.sidebar.button] == ["Sign out"]
    assert [e for e in at.expander if e.label == "Create a queue"]
    with open_store(app_db) as s:
        log = audit.entries(s, action="roles.bootstrap")
    assert list(log["actor"]) == ["ana@example.org"]
    ben = {"is_logged_in": True, "email": "ben@example.org", "sub": "ben"}
    at = _run("queues", ben)
    assert "ben@example.org · reviewer" in _texts(at)
    assert not [e for e in at.expander if e.label == "Create a queue"]
    at = _run("audit", ben)
    assert any("for leads" in i.value for i in at.info)


def test_unverified_email_falls_back_to_the_subject(app_db, secrets_file):
    secrets_file.write_text(OIDC)
    at = _run(None, {"is_logged_in": True, "email": "boss@example.org",
                     "email_verified": False, "sub": "u-17"})
    assert "u-17 · lead" in _texts(at)


@pytest.mark.parametrize("text, said", [
    (OIDC.replace('client_secret = "s3cret"\n', ""), "missing client_secret"),
    ('[trusted_proxy]\nheader = "X-User"\naddresses = ["proxy.local"]\n', "not an IP"),
])
def test_broken_sign_in_settings_show_no_page(app_db, secrets_file, text, said):
    secrets_file.write_text(text)
    at = _run("grade", {"is_logged_in": True, "email": "ana@example.org"})
    assert at.error and "cannot be used" in at.error[0].value
    assert any(said in t.value for t in at.text)
    assert "Grade" not in [t.value for t in at.title]


def test_proxy_mode_without_the_proxy_header_is_refused(app_db, secrets_file):
    # AppTest sends no request headers: as a connection that did not come through the proxy
    secrets_file.write_text('[trusted_proxy]\nheader = "X-Forwarded-Email"\n'
                            'addresses = ["127.0.0.1"]\n')
    at = _run("grade", {}, params={"reviewer": "ana"})
    assert at.error and "did not come through it" in at.error[0].value
    assert not at.sidebar.text_input


def test_roles_page_lead_changes_roles_reviewer_is_refused(app_db):
    at = app_page("roles", params={"reviewer": "ana"})  # the first name: the lead
    at.text_area[0].input("ana\nchloe")
    at.checkbox[0].check()
    at.text_area[1].input("ben")
    at.button[0].click()
    at.run()
    assert not at.exception
    assert any("Roles saved" in s.value for s in at.success)
    data = yaml.safe_load((app_db.parent / "roles.yaml").read_text())
    assert data["leads"] == ["ana", "chloe"] and data["reviewers"] == ["ben"]
    with open_store(app_db) as s:
        assert list(audit.entries(s, action="roles.change")["actor"]) == ["ana"]
    at = app_page("roles", params={"reviewer": "ben"})
    assert any("managed by leads" in i.value for i in at.info)
    assert not at.text_area
