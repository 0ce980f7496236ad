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


def test_later_files_replace_earlier_sections(tmp_path):
    user, here = tmp_path / "home.toml", tmp_path / "here.toml"
    user.write_text(OIDC)
    here.write_text(PROXY)
    # both configure a mode, in different files: refused, naming both
    with pytest.raises(signin.SignInError, match="choose one"):
        signin.load([user, here])
    here.write_text(OIDC.replace("8501", "8600"))
    cfg = signin.load([user, tmp_path / "absent.toml", here])
    assert cfg.mode is signin.Mode.OIDC and cfg.source == here
    assert cfg.redirect_uri == "http://127.0.0.1:8600/oauth2callback"


def test_default_files_are_streamlits(tmp_path):
    assert signin.default_files(tmp_path / "h", tmp_path / "w") == [
        tmp_path / "h" / ".streamlit" / "secrets.toml",
        tmp_path / "w" / ".streamlit" / "secrets.toml"]


def test_the_example_cookie_secret_is_refused(tmp_path):
    text = OIDC.replace('"0123456789abcdef0123456789abcdef-x"',
                        '"replace with at least 32 random characters, e.g. from: openssl"')
    with pytest.raises(signin.SignInError, match="cookie_secret"):
        signin.load(_write(tmp_path, text))


def test_start_summary_warns_of_mistakes(tmp_path):
    oidc = signin.load(_write(tmp_path, OIDC))
    assert signin.summary(oidc, "127.0.0.1", 8501) == [
        f"sign-in: OpenID Connect, settings in {tmp_path / 'secrets.toml'}"]
    wrong_port = signin.summary(oidc, "127.0.0.1", 8600)
    assert "points at port 8501 but the app serves on port 8600" in wrong_port[-1]
    own_port = signin.load(_write(tmp_path, OIDC.replace("8501", "{port}")))
    assert len(signin.summary(own_port, "127.0.0.1", 8600)) == 1
    off = signin.SignIn()
    assert signin.summary(off, "127.0.0.1", 8501)[0].startswith("sign-in is off")
    assert len(signin.summary(off, "localhost", 8501)) == 1
    assert "beyond this machine" in signin.summary(off, "0.0.0.0", 8501)[-1]
    proxy = signin.load(_write(tmp_path, PROXY))
    assert "believed only from 10.0.0.7, 127.0.0.1 or ::1" in signin.summary(
        proxy, "127.0.0.1", 8501)[0]
