"""Serving the app with a secrets file (sign-in) for the browser sign-in tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import browser_support as bs
import pytest


@pytest.fixture(scope="module")
def demo3k(demo_files) -> Path:
    return demo_files.template(spans=3000, queue=False)  # shared: tests copy it


@contextmanager
def serving(db: Path, secrets_text: str, log_dir: Path) -> Iterator[str]:
    """`goldenloop serve --secrets FILE` on a free port."""
    port = bs.free_port()
    secrets = log_dir / "secrets.toml"
    secrets.write_text(secrets_text)
    log = log_dir / f"app-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*bs.app_command(db, port), "--secrets", str(secrets)],
                                cwd=bs.ROOT, env=os.environ | {"GOLDENLOOP_DB": str(db)},
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        bs.wait_healthy(url, proc, log)
        yield url
    finally:
        bs.stop(proc)
