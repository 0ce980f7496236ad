"""The loopback OIDC provider the sign-in tests rely on: its discovery document names only
127.0.0.1, and an authorization-code flow with PKCE, driven over HTTP with Authlib (the
library Streamlit's st.login uses), yields a signed ID token for the user who typed the
password, and no token for a wrong password."""

from __future__ import annotations

import re

import httpx
import pytest

pytest_plugins = ["oidc_provider"]  # the provider fixture (tests/oidc_provider.py)

authlib_client = pytest.importorskip("authlib.integrations.httpx_client",
                                     reason="Authlib (Streamlit's sign-in) is not installed")
joserfc = pytest.importorskip("joserfc", reason="joserfc (Authlib's JOSE library) is not installed")
from joserfc import jwt  # noqa: E402
from joserfc.jwk import KeySet  # noqa: E402

REDIRECT = "http://127.0.0.1:50123/oauth2callback"  # any port: a registered loopback URI


def _authorize(provider, username: str, password: str) -> httpx.Response:
    """Start the flow as a browser would and submit the provider's login form."""
    meta = httpx.get(provider.metadata_url, timeout=10).raise_for_status().json()
    client = authlib_client.OAuth2Client(provider.client_id, provider.client_secret,
                                         scope="openid email profile", redirect_uri=REDIRECT,
                                         code_challenge_method="S256")
    verifier = "v" * 64
    url, state = client.create_authorization_url(meta["authorization_endpoint"],
                                                 code_verifier=verifier, nonce="n-0421")
    with httpx.Client(timeout=10, follow_redirects=False) as browser:
        form = browser.get(url).raise_for_status().text
        txn = re.search(r'name="transaction_id" value="([^"]+)"', form).group(1)
        answer = browser.post(meta["authorization_endpoint"], data={
            "transaction_id": txn, "username": username, "password": password})
    answer.meta, answer.client, answer.verifier, answer.state = meta, client, verifier, state
    return answer


def test_discovery_names_only_loopback(oidc_provider):
    meta = httpx.get(oidc_provider.metadata_url, timeout=10).raise_for_status().json()
    urls = {k: v for k, v in meta.items() if isinstance(v, str) and v.startswith("http")}
    assert meta["issuer"] == oidc_provider.url
    assert {"authorization_endpoint", "token_endpoint", "jwks_uri"} <= set(urls)
    assert all(v.startswith("http://127.0.0.1:") for v in urls.values()), urls
    assert "S256" in meta["code_challenge_methods_supported"]


def test_code_flow_gives_the_signed_in_user(oidc_provider):
    ben = oidc_provider.users["ben"]
    answer = _authorize(oidc_provider, ben.username, ben.password)
    assert answer.status_code in (302, 303), answer.text[:300]
    back = answer.headers["location"]
    assert back.startswith(REDIRECT), back
    token = answer.client.fetch_token(answer.meta["token_endpoint"], authorization_response=back,
                                      code_verifier=answer.verifier, state=answer.state)
    keys = KeySet.import_key_set(httpx.get(answer.meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token["id_token"], keys).claims  # raises on a bad signature
    assert claims["sub"] == "ben"
    assert claims["iss"] == oidc_provider.url
    assert claims["aud"] == oidc_provider.client_id or oidc_provider.client_id in claims["aud"]
    assert claims["nonce"] == "n-0421"


def test_wrong_password_gets_no_code(oidc_provider):
    answer = _authorize(oidc_provider, "ben", "not-his-password")
    assert "code=" not in answer.headers.get("location", "")
