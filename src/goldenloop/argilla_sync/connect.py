"""Reaching an Argilla server: the URL and key come from environment variables whose NAMES
goldenloop keeps (default ``ARGILLA_API_URL`` / ``ARGILLA_API_KEY``); the key is never stored,
logged or shown. Every failure of the server or the network becomes one ArgillaSyncError
in plain words (unreachable, authentication, missing workspace or dataset)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from goldenloop.errors import GoldenloopError

URL_ENV = "ARGILLA_API_URL"
KEY_ENV = "ARGILLA_API_KEY"


class ArgillaSyncError(GoldenloopError):
    """The Argilla server cannot be used as asked (configuration, network, authentication,
    a missing workspace or dataset). Nothing is written on goldenloop's side when raised."""


@dataclass(frozen=True)
class Endpoint:
    """Where Argilla is: the variable names, resolved only when connecting."""

    url_env: str = URL_ENV
    key_env: str = KEY_ENV

    def resolve(self) -> tuple[str, str]:
        url, key = os.environ.get(self.url_env, "").strip(), os.environ.get(self.key_env, "").strip()
        if not url:
            raise ArgillaSyncError(f"no Argilla URL: set the environment variable {self.url_env}")
        if not key:
            raise ArgillaSyncError(f"no Argilla API key: set the environment variable {self.key_env}")
        return url.rstrip("/"), key


def client(endpoint: Endpoint):
    """An ``argilla.Argilla`` client (connecting checks the URL and the key)."""
    import argilla as rg  # imported here: only Argilla commands pay for the SDK's import

    url, key = endpoint.resolve()
    with translated(url):
        return rg.Argilla(api_url=url, api_key=key, timeout=120)


def http(endpoint: Endpoint) -> httpx.Client:
    """Plain REST for what the SDK does not expose (response times, user names)."""
    url, key = endpoint.resolve()
    return httpx.Client(base_url=url, timeout=120, headers={"X-Argilla-Api-Key": key})


def _explain(exc: BaseException, url: str) -> str | None:
    import argilla as rg
    from argilla._exceptions import ArgillaAPIError, ArgillaCredentialsError, NotFoundError

    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        if code == 401:
            return f"Argilla at {url} refused the API key (authentication failed)"
        if code == 403:
            return f"Argilla at {url}: this API key's user may not do that (forbidden)"
        if code == 404:
            return f"Argilla at {url}: not found ({exc.request.url.path})"
        return f"Argilla at {url} answered HTTP {code} to {exc.request.url.path}"
    if isinstance(exc, httpx.TransportError):
        return f"Argilla server unreachable at {url}: {type(exc).__name__}"
    if isinstance(exc, ArgillaCredentialsError):
        return f"Argilla at {url} refused the API key (authentication failed)"
    if isinstance(exc, NotFoundError):
        return f"Argilla at {url}: not found ({exc})"
    if isinstance(exc, ArgillaAPIError):
        return f"Argilla at {url} refused the request: {exc}"
    if isinstance(exc, rg._exceptions.ArgillaError):
        text = str(exc)
        if "connect" in text.lower() or "ConnectError" in text:
            return f"Argilla server unreachable at {url}"
        return f"Argilla at {url}: {text}"
    return None


@contextmanager
def translated(url: str) -> Iterator[None]:
    """Turn the SDK's and httpx's errors into ArgillaSyncError, saying what went wrong."""
    try:
        yield
    except ArgillaSyncError:
        raise
    except Exception as exc:
        cause = exc
        while cause is not None and _explain(cause, url) is None:
            cause = cause.__cause__ or cause.__context__
        message = _explain(cause, url) if cause is not None else None
        if message is None:
            raise
        raise ArgillaSyncError(message) from None
