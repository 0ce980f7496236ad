"""Where spans live, from one configuration string: ``duckdb`` (the default: the store's own
file), ``clickhouse://user@host:port/database`` (a ClickHouse server or cluster) or
``chdb:///path`` (embedded ClickHouse, for tests and single-machine trials).

The string comes from ``goldenloop serve --spans``, else ``$GOLDENLOOP_SPANS``, else the
``url:`` of ``spans.yaml`` beside the database file, else ``duckdb`` (``configured_url``).

Credentials never appear in the string: ``?password_env=NAME`` names the environment variable
that holds the password (default ``GOLDENLOOP_CLICKHOUSE_PASSWORD``). A URL with a password
in it is refused, so it cannot end up in a shell history, a config file or a log.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from goldenloop.errors import SpanStoreError

ENV_URL = "GOLDENLOOP_SPANS"  # the configuration string, when no option gives one
CONFIG_FILE = "spans.yaml"  # beside the database file: ``url: clickhouse://...``
DEFAULT_PASSWORD_ENV = "GOLDENLOOP_CLICKHOUSE_PASSWORD"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SpanStoreConfig:
    backend: str  # duckdb, clickhouse, chdb
    host: str = ""
    port: int | None = None
    user: str = "default"
    database: str = "default"
    path: str = ""  # chdb's folder
    secure: bool = False
    password_env: str = DEFAULT_PASSWORD_ENV
    cluster: str | None = None
    retention_days: int | None = None
    extra: dict = field(default_factory=dict)

    def describe(self) -> str:
        """The configuration without secrets, for messages."""
        if self.backend == "duckdb":
            return "duckdb (the store's own file)"
        if self.backend == "chdb":
            db = "" if self.database == "default" else f"?database={self.database}"
            return f"chdb:///{self.path.lstrip('/')}{db}"
        port = f":{self.port}" if self.port else ""
        return f"clickhouse://{self.user}@{self.host}{port}/{self.database}"


class _ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a `password:` line is refused, not ignored

    url: str = "duckdb"


def configured_url(option: str | None, data_dir: str | Path) -> str:
    """The span store's configuration string: ``option`` (``--spans``), else the environment
    variable, else ``spans.yaml`` in ``data_dir`` (the database's folder), else ``duckdb``.
    Checked here (``parse``), so a bad string stops a start before any work."""
    if option:
        url, where = option, "--spans"
    elif os.environ.get(ENV_URL, "").strip():
        url, where = os.environ[ENV_URL], f"${ENV_URL}"
    else:
        where = str(Path(data_dir) / CONFIG_FILE)
        url = _from_file(Path(where))
    try:
        parse(url)
    except SpanStoreError as exc:
        raise SpanStoreError(f"{where}: {exc}") from None
    return url.strip()


def _from_file(path: Path) -> str:
    if not path.is_file():
        return "duckdb"
    data = None
    try:
        data = yaml.safe_load(path.read_text()) or {}
        return _ConfigFile.model_validate(data).url
    except OSError as exc:
        raise SpanStoreError(f"cannot read {path}: {exc}") from exc
    except (yaml.YAMLError, ValidationError) as exc:
        hint = ""
        if isinstance(data, dict) and "password" in data:
            hint = (" (put the password in an environment variable and name it with "
                    "?password_env=NAME in the url)")
        first = str(exc).splitlines()
        raise SpanStoreError(f"bad span store config {path}: "
                             f"{' '.join(first[:3])}{hint}") from exc


def parse(url: str | None) -> SpanStoreConfig:
    """The span store named by ``url`` (or ``$GOLDENLOOP_SPANS``; DuckDB when neither)."""
    url = (url if url is not None else os.environ.get(ENV_URL, "")).strip()
    if url in ("", "duckdb", "duckdb://"):
        return SpanStoreConfig("duckdb")
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    common = _common(query, url)
    if parts.scheme == "chdb":
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise SpanStoreError(f"{url}: give chdb a folder, e.g. chdb:///var/lib/goldenloop/ch")
        return SpanStoreConfig("chdb", path=path, database=_database(query.get("database"), url),
                               **common)
    if parts.scheme not in ("clickhouse", "clickhouses"):
        raise SpanStoreError(f"{url}: unknown span store; use duckdb, "
                             "clickhouse://user@host:port/database or chdb:///folder")
    if parts.password:
        raise SpanStoreError("the span store URL holds a password: remove it and put the "
                             "password in an environment variable named by ?password_env=NAME "
                             f"(default {DEFAULT_PASSWORD_ENV})")
    if not parts.hostname:
        raise SpanStoreError(f"{url}: no host; e.g. clickhouse://default@127.0.0.1:8123/default")
    try:
        port = parts.port
    except ValueError as exc:
        raise SpanStoreError(f"{url}: bad port") from exc
    return SpanStoreConfig(
        "clickhouse", host=parts.hostname, port=port, user=unquote(parts.username or "default"),
        database=_database(parts.path.strip("/"), url),
        secure=parts.scheme == "clickhouses" or query.get("secure") in ("1", "true"), **common)


def _database(name: str | None, url: str) -> str:
    """A database name is spliced into DDL: a plain name only."""
    if not name:
        return "default"
    if not _NAME.match(name):
        raise SpanStoreError(f"{url}: the database must be a plain name (letters, digits, _)")
    return name


def _common(query: dict, url: str) -> dict:
    env = query.get("password_env", DEFAULT_PASSWORD_ENV)
    if not _NAME.match(env):
        raise SpanStoreError(f"{url}: password_env must name an environment variable")
    out: dict = {"password_env": env, "cluster": query.get("cluster") or None}
    if "retention_days" in query:
        try:
            out["retention_days"] = int(query["retention_days"])
        except ValueError as exc:
            raise SpanStoreError(f"{url}: retention_days must be a whole number of days") from exc
    if out["cluster"] and not _NAME.match(out["cluster"]):
        raise SpanStoreError(f"{url}: cluster must be a plain name")
    return out


def is_plain_name(name: str) -> bool:
    """A name that may be spliced into SQL as an identifier (database, cluster)."""
    return bool(_NAME.match(name))


def password(cfg: SpanStoreConfig) -> str:
    """The password from the environment variable the configuration names ('' when unset)."""
    return os.environ.get(cfg.password_env, "")
