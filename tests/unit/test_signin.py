"""Sign-in configuration and the identity each mode yields (goldenloop.access.signin)."""

from __future__ import annotations

import pytest

from goldenloop.access import signin

OIDC = """[auth]
redirect_uri = "http://127.0.0.1:8501/oauth2callback"
cookie_secret = "0123456789abcdef0123456789abcdef-x"
client_id = "goldenloop"
client_secret = "s3cret"
server_metadata_url = "http://127.0.0.1:9000/.well-known/openid-configuration"
"""
PROXY = """[trusted_proxy]
header = "X-Forwarded-Email"
addresses = ["127.0.0.1", "10.0.0.7"]
"""


def _write(tmp_path, text):
    path = tmp_path / "secrets.toml"
    path.write_text(text)
    return path


def test_no_file_or_no_section_is_off(tmp_path):
    assert signin.load(None).mode is signin.Mode.OFF
    assert signin.load(tmp_path / "missing.toml").on is False
    assert signin.load(_write(tmp_path, "[other]\nx = 1\n")).mode is signin.Mode.OFF


def test_auth_section_is_oidc(tmp_path):
    cfg = signin.load(_write(tmp_path, OIDC))
    assert cfg.mode is signin.Mode.OIDC and cfg.on


@pytest.mark.parametrize("drop, said", [
    ("client_secret", "missing client_secret"),
    ("server_metadata_url", "missing server_metadata_url"),
])
def test_incomplete_auth_names_the_missing_setting(tmp_path, drop, said):
    text = "\n".join(line for line in OIDC.splitlines() if not line.startswith(drop))
    with pytest.raises(signin.SignInError, match=said) as err:
        signin.load(_write(tmp_path, text))
    assert "secrets.toml" in str(err.value)


@pytest.mark.parametrize("old, new, said", [
    ("8501/oauth2callback", "8501/callback", "must end with /oauth2callback"),
    ('"0123456789abcdef0123456789abcdef-x"', '"short"', "at least 32 characters"),
    ('"http://127.0.0.1:9000/', '"127.0.0.1:9000/', "absolute http"),
])
def test_bad_auth_values_are_refused(tmp_path, old, new, said):
    with pytest.raises(signin.SignInError, match=said):
        signin.load(_write(tmp_path, OIDC.replace(old, new)))


def test_unreadable_toml_says_so(tmp_path):
    with pytest.raises(signin.SignInError, match=r"secrets\.toml: cannot read"):
        signin.load(_write(tmp_path, "[auth\nx="))


def test_both_modes_at_once_is_refused(tmp_path):
    with pytest.raises(signin.SignInError, match="choose one"):
        signin.load(_write(tmp_path, OIDC + PROXY))


def test_claims_give_email_then_subject():
    assert signin.identity_from_claims({"email": " Ana@Example.org", "sub": "x1"}) == \
        "ana@example.org"
    assert signin.identity_from_claims({"sub": "ben"}) == "ben"
    # an e-mail the provider itself says is unverified is not an identity
    assert signin.identity_from_claims({"email": "boss@example.org", "email_verified": False,
                                        "sub": "u-77"}) == "u-77"
    with pytest.raises(signin.SignInError, match="neither an e-mail nor a subject"):
        signin.identity_from_claims({"iss": "x"})
    with pytest.raises(signin.SignInError, match="cannot be used"):
        signin.identity_from_claims({"sub": "x" * 100})


def test_proxy_header_is_believed_only_from_a_configured_proxy(tmp_path):
    cfg = signin.load(_write(tmp_path, PROXY))
    assert cfg.mode is signin.Mode.PROXY and cfg.header == "X-Forwarded-Email"
    headers = {"x-forwarded-email": "Chloe@Example.org"}
    # Streamlit reports no address for a loopback peer; 127.0.0.1 is configured
    assert signin.identity_from_proxy(cfg, headers, None) == "chloe@example.org"
    assert signin.identity_from_proxy(cfg, headers, "10.0.0.7") == "chloe@example.org"
    assert signin.identity_from_proxy(cfg, headers, "10.0.0.8") is None
    assert signin.identity_from_proxy(cfg, headers, "192.168.1.5") is None
    assert signin.identity_from_proxy(cfg, {"x-other": "chloe"}, None) is None
    assert signin.identity_from_proxy(cfg, {"X-Forwarded-Email": "  "}, None) is None


def test_proxy_without_loopback_refuses_local_connections(tmp_path):
    cfg = signin.load(_write(tmp_path, PROXY.replace('"127.0.0.1", ', "")))
    assert signin.identity_from_proxy(cfg, {"X-Forwarded-Email": "eve"}, None) is None
    assert signin.identity_from_proxy(cfg, {"X-Forwarded-Email": "eve"}, "::1") is None
    assert signin.identity_from_proxy(cfg, {"X-Forwarded-Email": "eve"}, "10.0.0.7") == "eve"


@pytest.mark.parametrize("section, said", [
    ('[trusted_proxy]\naddresses = ["127.0.0.1"]\n', "header must name one request header"),
    ('[trusted_proxy]\nheader = "X-User"\n', "addresses must list"),
    ('[trusted_proxy]\nheader = "X-User"\naddresses = ["proxy.internal"]\n', "not an IP"),
])
def test_bad_proxy_settings_are_refused(tmp_path, section, said):
    with pytest.raises(signin.SignInError, match=said):
        signin.load(_write(tmp_path, section))
