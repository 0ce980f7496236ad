"""How the app knows who is using it: the sign-in mode its secrets file configures, and the
identity each mode yields. No Streamlit here: the app reads the request, this decides.

Three modes, read from the app's ``secrets.toml`` (the file Streamlit reads; ``goldenloop
serve --secrets FILE`` names it):

* ``oidc``: an ``[auth]`` section as Streamlit documents it (``redirect_uri``,
  ``cookie_secret``, ``client_id``, ``client_secret``, ``server_metadata_url``). Streamlit
  runs the OpenID Connect flow (``st.login``, Authlib underneath) and keeps the signed ID
  token's claims in a signed cookie; the identity is the token's e-mail, or its subject when
  the provider sends no (verified) e-mail.
* ``proxy``: a ``[trusted_proxy]`` section (``header``, ``addresses``) for a team behind an
  authenticating reverse proxy that names the user in a request header. The header is
  believed only on a connection whose TCP peer is one of ``addresses``; from anyone else it
  is ignored. ``goldenloop serve`` turns off the web server's own X-Forwarded-For rewriting so
  the peer the app sees is the real one.
* ``off``: neither section. The honour system: a person types a name, which is fine for one
  person on localhost and says so on every page.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlparse

from goldenloop.access.roles import RolesError, normalize_name
from goldenloop.errors import GoldenloopError

__all__ = ["LOOPBACK", "Mode", "SignIn", "SignInError", "default_files", "identity_from_claims",
           "identity_from_proxy", "load", "summary"]

OIDC_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
_MIN_COOKIE_SECRET = 32
LOOPBACK = "loopback"  # the peer of a connection from 127.0.0.1 or ::1


class SignInError(GoldenloopError):
    """The sign-in configuration is unusable, or a signed-in identity cannot be used."""


class Mode(StrEnum):
    OFF = "off"
    OIDC = "oidc"
    PROXY = "proxy"


@dataclass(frozen=True)
class SignIn:
    """The configured mode; for ``proxy``, which header names the user and which peers may
    send it (addresses normalized: ``LOOPBACK`` for 127.0.0.1 and ::1)."""

    mode: Mode = Mode.OFF
    source: Path | None = None
    header: str | None = None
    proxies: frozenset[str] = frozenset()
    redirect_uri: str | None = None

    @property
    def on(self) -> bool:
        return self.mode is not Mode.OFF


def load(paths: Path | Sequence[Path] | None) -> SignIn:
    """The sign-in mode the secrets files configure; ``off`` when none exists.

    Several files are read in order and later ones replace earlier ones section by section,
    as Streamlit merges its ``secrets.files``, so the mode is the one ``st.login`` works with.
    """
    if paths is None:
        return SignIn()
    merged: dict[str, tuple[Path, object]] = {}
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        path = Path(path)
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SignInError(f"{path}: cannot read: {exc}") from None
        merged.update({key: (path, value) for key, value in data.items()})
    return _mode(merged)


def _mode(sections: dict[str, tuple[Path, object]]) -> SignIn:
    auth, proxy = sections.get("auth"), sections.get("trusted_proxy")
    if auth is not None and proxy is not None:
        raise SignInError(f"{auth[0]}: [auth] and [trusted_proxy] are both set (the second in "
                          f"{proxy[0].name}): choose one way of signing in")
    if auth is not None:
        _check_oidc(*auth)
        return SignIn(Mode.OIDC, auth[0], redirect_uri=str(auth[1]["redirect_uri"]))
    if proxy is not None:
        header, proxies = _proxy_settings(*proxy)
        return SignIn(Mode.PROXY, proxy[0], header, proxies)
    return SignIn()


def _check_oidc(path: Path, auth: object) -> None:
    if not isinstance(auth, dict):
        raise SignInError(f"{path}: [auth] must be a table of settings")
    missing = [k for k in OIDC_KEYS if not str(auth.get(k) or "").strip()]
    if missing:
        raise SignInError(f"{path}: [auth] is missing {', '.join(missing)} "
                          "(goldenloop signs in with one provider, set in [auth] itself)")
    if not str(auth["redirect_uri"]).endswith("/oauth2callback"):
        raise SignInError(f"{path}: [auth] redirect_uri must end with /oauth2callback "
                          f"(got {auth['redirect_uri']!r})")
    for key in ("redirect_uri", "server_metadata_url"):
        if not str(auth[key]).startswith(("http://", "https://")):
            raise SignInError(f"{path}: [auth] {key} must be an absolute http(s) URL")
    if len(str(auth["cookie_secret"])) < _MIN_COOKIE_SECRET or \
            str(auth["cookie_secret"]).startswith("replace with"):  # the example's placeholder
        raise SignInError(f"{path}: [auth] cookie_secret must be at least "
                          f"{_MIN_COOKIE_SECRET} characters of random text")


def _proxy_settings(path: Path, proxy: object) -> tuple[str, frozenset[str]]:
    if not isinstance(proxy, dict):
        raise SignInError(f"{path}: [trusted_proxy] must be a table of settings")
    header = str(proxy.get("header") or "").strip()
    if not header or any(c.isspace() or c == ":" for c in header):
        raise SignInError(f"{path}: [trusted_proxy] header must name one request header, "
                          "e.g. \"X-Forwarded-Email\"")
    raw = proxy.get("addresses")
    if isinstance(raw, str):
        raw = [raw]
    if not raw or not isinstance(raw, list):
        raise SignInError(f"{path}: [trusted_proxy] addresses must list the proxy's IP "
                          "addresses, e.g. [\"127.0.0.1\"]")
    return header, frozenset(_peer(path, str(a)) for a in raw)


def _peer(path: Path, address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        raise SignInError(f"{path}: [trusted_proxy] addresses: {address!r} is not an IP "
                          "address (host names are not resolved)") from None
    return LOOPBACK if ip.is_loopback else ip.compressed


def peer_of(ip: str | None) -> str:
    """How a connection's peer address compares with the configured proxies."""
    if ip is None:
        return LOOPBACK  # Streamlit reports no address for 127.0.0.1 and ::1
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    return LOOPBACK if parsed.is_loopback else parsed.compressed


def identity_from_claims(claims: Mapping[str, object]) -> str:
    """The reviewer identity of a signed-in user: the ID token's e-mail (unless the provider
    says it is unverified), else its subject; normalized like a typed name."""
    email = str(claims.get("email") or "").strip()
    chosen = email if email and claims.get("email_verified") is not False else \
        str(claims.get("sub") or "").strip()
    if not chosen:
        raise SignInError("the identity provider sent neither an e-mail nor a subject")
    try:
        return normalize_name(chosen)
    except RolesError as exc:
        raise SignInError(f"the signed-in identity cannot be used: {exc}") from None


def identity_from_proxy(config: SignIn, headers: Mapping[str, str], peer_ip: str | None
                        ) -> str | None:
    """The user the trusted proxy names, or None when the header is absent or the connection
    did not come from a configured proxy (then the header is anybody's claim)."""
    if config.mode is not Mode.PROXY or config.header is None:
        return None
    if peer_of(peer_ip) not in config.proxies:
        return None
    wanted = config.header.casefold()
    value = next((v for k, v in headers.items() if k.casefold() == wanted), None)
    if not value or not value.strip():
        return None
    try:
        return normalize_name(value)
    except RolesError as exc:
        raise SignInError(f"the {config.header} header names no usable identity: {exc}") from None


def default_files(home: Path | None = None, cwd: Path | None = None) -> list[Path]:
    """Where Streamlit looks for secrets when no file is named: the user's and the working
    directory's ``.streamlit/secrets.toml`` (its ``secrets.files`` default), in that order."""
    return [(home or Path.home()) / ".streamlit" / "secrets.toml",
            (cwd or Path.cwd()) / ".streamlit" / "secrets.toml"]


def summary(config: SignIn, host: str, port: int) -> list[str]:
    """What ``goldenloop serve`` says about sign-in when it starts (warnings included)."""
    if config.mode is Mode.OIDC:
        lines = [f"sign-in: OpenID Connect, settings in {config.source}"]
        back = _port_of(config.redirect_uri or "")
        if back not in (None, port):
            lines.append(f"warning: [auth] redirect_uri points at port {back} but the app "
                         f"serves on port {port}: sign-in will come back to the wrong place")
        return lines
    if config.mode is Mode.PROXY:
        peers = ", ".join(sorted("127.0.0.1 or ::1" if p == LOOPBACK else p
                                 for p in config.proxies))
        return [f"sign-in: the {config.header} header, believed only from {peers} "
                f"(settings in {config.source})"]
    lines = ["sign-in is off (honour system): anyone who opens the app types a name; "
             "see the operator docs to turn it on"]
    if not _is_loopback_host(host):
        lines.append(f"warning: the app listens on {host}, beyond this machine, with sign-in "
                     "off: anyone who reaches it can act as any name")
    return lines


def _port_of(uri: str) -> int | None:
    """The port a redirect URI names; None for Streamlit's ``{port}`` (the app's own)."""
    if "{port}" in uri:
        return None
    try:
        return urlparse(uri).port
    except ValueError:
        return None


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
