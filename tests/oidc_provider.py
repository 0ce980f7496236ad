"""A real OpenID Connect provider on loopback for the sign-in tests (session scope).

``nanoidp`` (a test identity provider from the registry: real authorization-code flow with
PKCE, signed ID tokens, discovery) lives in its own virtual environment under the user's cache
folder, since it brings Flask and an MCP server the project does not use. The fixture writes
its configuration (issuer, one confidential client, users), starts it on a free 127.0.0.1
port and waits until its discovery document answers. When it cannot be installed the tests
skip, saying why. ``python tests/oidc_provider.py --install`` creates the environment ahead
of a test run (scripts/test does).

The client registers ``http://127.0.0.1:8501/oauth2callback``: nanoidp matches a registered
loopback redirect URI on any port (RFC 8252 section 7.3), so one provider serves apps started
on free ports. The users carry their goldenloop role as an IdP role too, for realism; the
app takes roles from ``roles.yaml``, never from the token. nanoidp follows OIDC Core to the
letter: the ID token carries ``email`` only when the client asks for it with the ``claims``
request parameter, which Streamlit does not send, so the app's identity for these users is
their subject (``TestUser.identity``), as it would be with any provider that omits the e-mail.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("GOLDENLOOP_TEST_CACHE", Path.home() / ".cache" / "goldenloop-tests"))
VENV = CACHE / "oidc-provider-venv"
PACKAGES = ["nanoidp==3.4.0"]
CLIENT_ID = "goldenloop"
CLIENT_SECRET = "goldenloop-test-client-secret"  # a loopback test provider
REGISTERED_REDIRECT = "http://127.0.0.1:8501/oauth2callback"


@dataclass(frozen=True)
class TestUser:
    username: str
    password: str
    email: str
    role: str  # "lead" or "reviewer": what roles.yaml should give them

    __test__ = False  # not a pytest test class

    @property
    def identity(self) -> str:
        """What goldenloop calls them once signed in: the ID token's subject (see above)."""
        return self.username


USERS = (
    TestUser("ana", "ana-pass-4821", "ana@example.org", "lead"),
    TestUser("ben", "ben-pass-7305", "ben@example.org", "reviewer"),
)


@dataclass(frozen=True)
class OidcProvider:
    url: str                 # the issuer, http://127.0.0.1:PORT
    client_id: str
    client_secret: str
    users: dict[str, TestUser]

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def secrets_toml(self, app_port: int | str = "{port}",
                     cookie_secret: str = "goldenloop-test-cookie-secret-0123456789abcdef") -> str:
        """The app's ``[auth]`` section, as Streamlit documents it, for an app on app_port
        (by default Streamlit's ``{port}``: the port the app serves on)."""
        return (
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
            f'cookie_secret = "{cookie_secret}"\n'
            f'client_id = "{self.client_id}"\n'
            f'client_secret = "{self.client_secret}"\n'
            f'server_metadata_url = "{self.metadata_url}"\n'
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings_yaml(port: int) -> str:
    # JSON is YAML: written with json.dumps so no value needs hand-quoting.
    return json.dumps({
        "config_version": 1,
        "server": {"host": "127.0.0.1", "port": port},
        "oauth": {
            "issuer": f"http://127.0.0.1:{port}",
            "audience": CLIENT_ID,
            "require_pkce": True,
            "clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                         "redirect_uris": [REGISTERED_REDIRECT]}],
        },
        "jwt": {"keys_dir": "./keys"},
    }, indent=1)


def _users_yaml() -> str:
    return json.dumps({"config_version": 1, "users": {
        u.username: {"password": u.password, "email": u.email, "roles": [u.role.upper()]}
        for u in USERS}}, indent=1)


def install() -> tuple[Path | None, str]:
    """The provider venv's python (created when missing), or None and why not."""
    py = VENV / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import nanoidp"],
                                      capture_output=True).returncode == 0:
        return py, ""
    CACHE.mkdir(parents=True, exist_ok=True)
    steps = [[sys.executable, "-m", "venv", str(VENV)],
             [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              *PACKAGES]]
    for cmd in steps:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            return None, f"{' '.join(cmd[-2:])} took over 15 minutes"
        if done.returncode != 0:
            return None, (f"{' '.join(cmd[-2:])} failed: "
                          f"{(done.stderr or done.stdout).strip()[-300:]}")
    return py, ""


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, seconds: float = 60) -> dict:
    """Poll the discovery document until it answers; return it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nanoidp exited with {proc.returncode}:\n"
                               f"{log.read_text(errors='replace')[-1500:]}")
        try:
            with urllib.request.urlopen(f"{url}/.well-known/openid-configuration",
                                        timeout=2) as resp:
                return json.load(resp)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"nanoidp not ready after {seconds:.0f} s:\n"
                       f"{log.read_text(errors='replace')[-1500:]}")


def _check_loopback(discovery: dict, url: str) -> None:
    """Every endpoint the app or the browser is sent to must be this loopback provider."""
    outside = {k: v for k, v in discovery.items()
               if isinstance(v, str) and v.startswith("http") and not v.startswith(url)}
    if discovery.get("issuer") != url or outside:
        raise RuntimeError(f"nanoidp advertises endpoints outside {url}: {outside}")


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory) -> Iterator[OidcProvider]:
    """Start nanoidp on a free 127.0.0.1 port with a lead and a reviewer; stop it at the end."""
    py, why = install()
    if py is None:
        pytest.skip(f"test OIDC provider not installable: {why}")
    work = tmp_path_factory.mktemp("oidc-provider")
    port = _free_port()
    config = work / "config"
    config.mkdir()
    (config / "settings.yaml").write_text(_settings_yaml(port))
    (config / "users.yaml").write_text(_users_yaml())
    log = work / "nanoidp.log"
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(py), "-m", "nanoidp", "--config", str(config),
                                 "--host", "127.0.0.1", "--port", str(port), "--strict-config"],
                                cwd=work, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        _check_loopback(_wait_ready(url, proc, log), url)
        yield OidcProvider(url=url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                           users={u.username: u for u in USERS})
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


if __name__ == "__main__":  # scripts/test: create the provider's environment ahead of the run
    if "--install" in sys.argv:
        found, reason = install()
        print(f"test OIDC provider: {found}" if found else
              f"test OIDC provider not installable ({reason}): sign-in tests will be skipped")
