"""A real Argilla server on loopback for the tests (session scope).

``argilla-server`` 2.8 lives in its own virtual environment under the user's cache folder
(it pins pydantic, httpx and fastapi versions the project does not use), with ``osmem-server``
as its search engine (an in-memory OpenSearch-compatible server) and Debian's ``redis-server``.
The fixture creates what is missing, starts the three processes on free 127.0.0.1 ports,
creates an owner and two annotators, and stops everything at the end. When something cannot
be installed the tests skip, saying what is missing.

osmem refuses scripted updates, which the server uses when a single response is created,
updated or deleted (the web UI's Submit) and when a suggestion is deleted; the launcher below
replaces those three search-engine methods by read-modify-write of the record's document.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

CACHE = Path(os.environ.get("GOLDENLOOP_TEST_CACHE", Path.home() / ".cache" / "goldenloop-tests"))
VENV = CACHE / "argilla-server-venv"
SERVER_PACKAGES = ["argilla-server==2.8.0", "click<8.2", "osmem-server"]
OWNER_KEY = "goldenloop-test-owner-key"
ANNOTATORS = ("ana", "ben")
PASSWORD = "annotator-pass-1234"

LAUNCHER = '''
"""Serve argilla-server on 127.0.0.1 with osmem-safe single-document updates."""
import sys

import uvicorn
from argilla_server.search_engine import opensearch
from argilla_server.search_engine.commons import es_index_name_for_dataset


async def _rewrite(engine, index_name, doc_id, change):
    found = await engine.client.get(index=index_name, id=doc_id)
    source = found["_source"]
    change(source)
    await engine.client.index(index=index_name, id=doc_id, body=source, refresh=True)


async def update_record_response(self, response):
    record = response.record
    new = self._map_record_response_to_es(response)

    def change(src):
        kept = [r for r in (src.get("responses") or []) if str(r.get("id")) != str(response.id)]
        src["responses"] = kept + [new]

    await _rewrite(self, es_index_name_for_dataset(record.dataset), str(record.id), change)


async def delete_record_response(self, response):
    record = response.record

    def change(src):
        src["responses"] = [r for r in (src.get("responses") or [])
                            if str(r.get("id")) != str(response.id)]

    await _rewrite(self, es_index_name_for_dataset(record.dataset), str(record.id), change)


async def delete_record_suggestion(self, suggestion):
    def change(src):
        (src.get("suggestions") or {}).pop(suggestion.question.name, None)

    await _rewrite(self, es_index_name_for_dataset(suggestion.record.dataset),
                   str(suggestion.record_id), change)


for f in (update_record_response, delete_record_response, delete_record_suggestion):
    setattr(opensearch.OpenSearchEngine, f.__name__, f)

uvicorn.run("argilla_server:app", host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
'''


@dataclass(frozen=True)
class ArgillaServer:
    url: str
    owner_key: str
    workspace: str
    annotators: dict[str, str]      # username -> API key

    def annotator_client(self, username: str) -> httpx.Client:
        """Plain REST as an annotator would (annotators cannot use the SDK's admin calls)."""
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"X-Argilla-Api-Key": self.annotators[username]})

    def submit_all(self, username: str, dataset_id: str, values: dict) -> int:
        """Submit ``values`` for every record of a dataset as ``username``; returns how many.

        The bulk endpoint answers 200 with an error per failed item (seen under load), so failed
        items are sent again, and the call returns only once the owner's record listing (what a
        pull reads) shows a submitted response on every record."""
        with self.annotator_client(username) as h:
            found = h.post(f"/api/v1/me/datasets/{dataset_id}/records/search",
                           params={"limit": 1000}, json={})
            found.raise_for_status()
            todo = [i["record"]["id"] for i in found.json()["items"]]
            total = len(todo)
            for _ in range(5):
                if not todo:
                    break
                todo = [rid for start in range(0, len(todo), 50)
                        for rid in _bulk_failures(h, values, todo[start:start + 50])]
            assert not todo, f"{len(todo)} responses refused by the server"
        self._wait_submitted(dataset_id, username, total)
        return total

    def _wait_submitted(self, dataset_id: str, username: str, total: int) -> None:
        with self.owner_client() as h:
            uid = next(u["id"] for u in h.get("/api/v1/users").json()["items"]
                       if u["username"] == username)
            deadline = time.monotonic() + 60
            while True:
                items = h.get(f"/api/v1/datasets/{dataset_id}/records",
                              params={"include": ["responses"], "limit": 1000}).json()["items"]
                done = sum(any(r["user_id"] == uid and r["status"] == "submitted"
                               for r in i.get("responses") or []) for i in items)
                if done == total:
                    return
                assert time.monotonic() < deadline, f"only {done} of {total} responses listed"
                time.sleep(0.5)

    def owner_client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"X-Argilla-Api-Key": self.owner_key})


def _bulk_failures(h: httpx.Client, values: dict, ids: list[str]) -> list[str]:
    r = h.post("/api/v1/me/responses/bulk", json={"items": [
        {"values": values, "status": "submitted", "record_id": i} for i in ids]})
    if r.status_code >= 500:
        return ids
    r.raise_for_status()
    return [i for i, item in zip(ids, r.json()["items"], strict=True) if item.get("error")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _venv_python() -> Path:
    """The server venv's python, creating the venv when missing (skips if it cannot)."""
    py = VENV / "bin" / "python"
    ok = py.exists() and subprocess.run([str(py), "-c", "import argilla_server, osmem_server"],
                                        capture_output=True).returncode == 0
    if ok:
        return py
    CACHE.mkdir(parents=True, exist_ok=True)
    steps = [[sys.executable, "-m", "venv", str(VENV)],
             [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              *SERVER_PACKAGES]]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"Argilla test server not installable: {' '.join(cmd[-3:])} failed: "
                        f"{(done.stderr or done.stdout).strip()[-300:]}")
    return py


def _redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], capture_output=True,
                       env=env, timeout=600)
        found = shutil.which("redis-server")
    if not found:
        pytest.skip("Argilla test server needs redis-server (Debian package), not installed here")
    return found


def _osmem_binary(py: Path) -> str:
    out = subprocess.run([str(py), "-c", "import osmem_server, os; "
                          "print(os.path.dirname(osmem_server.__file__))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return str(Path(out) / "bin" / "osmem-server")


def _wait(url: str, what: str, procs: list[subprocess.Popen], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{what}: a process exited with {p.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} not ready after {seconds:.0f} s")


def _owner(py: Path, env: dict[str, str], log) -> None:
    subprocess.run([str(py), "-m", "argilla_server", "database", "users", "create",
                    "--first-name", "Owner", "--username", "owner", "--password",
                    "owner-pass-1234", "--role", "owner", "--api-key", OWNER_KEY,
                    "--workspace", "goldenloop"], env=env, check=True, stdout=log, stderr=log)


def _annotators(url: str) -> dict[str, str]:
    """Annotators made through the REST API as an owner would (each CLI call would start the
    whole server module again); their API keys are the server's."""
    keys = {}
    with httpx.Client(base_url=url, timeout=60, headers={"X-Argilla-Api-Key": OWNER_KEY}) as h:
        ws = next(w for w in h.get("/api/v1/me/workspaces").raise_for_status().json()["items"]
                  if w["name"] == "goldenloop")
        for name in ANNOTATORS:
            user = h.post("/api/v1/users", json={"first_name": name.title(), "username": name,
                                                 "password": PASSWORD, "role": "annotator"})
            user = user.raise_for_status().json()
            h.post(f"/api/v1/workspaces/{ws['id']}/users",
                   json={"user_id": user["id"]}).raise_for_status()
            keys[name] = user["api_key"]
    return keys


@pytest.fixture(scope="session")
def argilla_server(tmp_path_factory) -> ArgillaServer:
    """Start redis, osmem and argilla-server on loopback; yield how to reach them."""
    py = _venv_python()
    redis = _redis_server()
    work = tmp_path_factory.mktemp("argilla-server")
    redis_port, os_port, port = _free_port(), _free_port(), _free_port()
    env = {**os.environ, "ARGILLA_DATABASE_URL": f"sqlite+aiosqlite:///{work}/argilla.db",
           "ARGILLA_SEARCH_ENGINE": "opensearch",
           "ARGILLA_ELASTICSEARCH": f"http://127.0.0.1:{os_port}",
           "ARGILLA_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "HF_HUB_OFFLINE": "1",
           "ARGILLA_HOME_PATH": str(work), "ARGILLA_ENABLE_TELEMETRY": "0"}
    log = open(work / "server.log", "w")  # noqa: SIM115 (kept open for the processes)
    procs: list[subprocess.Popen] = []
    try:
        procs.append(subprocess.Popen(
            [redis, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
             "--appendonly", "no", "--dir", str(work)], stdout=log, stderr=log))
        procs.append(subprocess.Popen(
            [_osmem_binary(py), "-addr", f"127.0.0.1:{os_port}", "-no-ja", "-no-stdin-watch"],
            stdout=log, stderr=log))
        _wait(f"http://127.0.0.1:{os_port}/", "osmem", procs)
        subprocess.run([str(py), "-m", "argilla_server", "database", "migrate"], env=env,
                       check=True, stdout=log, stderr=log)
        _owner(py, env, log)
        (work / "launch.py").write_text(LAUNCHER)
        procs.append(subprocess.Popen([str(py), str(work / "launch.py"), str(port)], env=env,
                                      stdout=log, stderr=log, cwd=work))
        url = f"http://127.0.0.1:{port}"
        _wait(f"{url}/api/v1/status", "argilla-server", procs, seconds=120)
        keys = _annotators(url)
        yield ArgillaServer(url=url, owner_key=OWNER_KEY, workspace="goldenloop", annotators=keys)
    except (RuntimeError, subprocess.CalledProcessError, httpx.HTTPError) as exc:
        log.flush()
        tail = (work / "server.log").read_text(errors="replace")[-1500:]
        raise RuntimeError(f"Argilla test server failed to start: {exc}\n{tail}") from None
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
