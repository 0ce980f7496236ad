"""Demo histories generated once per test session and copied for each use.

Generating a demo takes seconds to a minute on a loaded machine, and many modules (unit,
app and browser) ask for the same one. ``demo_files`` (a session fixture, registered for the
whole suite in tests/conftest.py) builds each distinct demo once into the session's
temporary folder and hands out file copies: a DuckDB file copy takes a fraction of a second,
and a test that writes (or an app it serves, which owns its file) never touches the shared
template. A demo with steps applied after generating (``then``: signals, scores, detection)
is made from a copy of the plain demo, so those share one generation too."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from filelock import FileLock

from goldenloop.demo import generate
from goldenloop.schema import open_store
from goldenloop.store import Store

Step = Callable[[Store], object]


class DemoFiles:
    """Demo templates by their generation arguments and the steps applied afterwards."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[tuple, Path] = {}

    def template(self, *, spans: int, seed: int = 7, days: int = 30, end: datetime | None = None,
                 queue: bool = True, then: tuple[Step, ...] = ()) -> Path:
        """The shared file (never open it for writing: take a ``copy``)."""
        key = (spans, seed, days, end, queue, tuple(f"{f.__module__}.{f.__qualname__}" for f in then))
        if key in self._made:
            return self._made[key]
        # The demo before its last step comes first: it is named before this one.
        before = (self.template(spans=spans, seed=seed, days=days, end=end, queue=queue,
                                then=then[:-1]) if then else None)
        # Named by its arguments: parallel workers share one folder, and the first to ask for
        # a demo makes it while the others wait on its lock.
        path = self.root / f"demo-{hashlib.sha256(repr(key).encode()).hexdigest()[:16]}.duckdb"
        with FileLock(f"{path}.lock"):
            if not path.exists():
                self._make(path, before, then, spans=spans, seed=seed, days=days, end=end,
                           queue=queue)
        self._made[key] = path
        return path

    @staticmethod
    def _make(path: Path, before: Path | None, then: tuple[Step, ...], **spec) -> None:
        part = path.with_suffix(".part")  # renamed when whole: a reader never sees half a file
        part.unlink(missing_ok=True)
        if before:  # a copy of the demo before the last step, then that step
            shutil.copy(before, part)
            with open_store(part) as s:
                then[-1](s)
                s.checkpoint()
        else:
            with open_store(part) as s:
                generate(s, **spec)
                s.checkpoint()
        part.replace(path)

    def copy(self, dest: Path, **spec) -> Path:
        """A private copy of the demo ``spec`` names, at ``dest``."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.template(**spec), dest)
        return dest


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoFiles]:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the run's folder, shared by its workers
        root = tmp_path_factory.getbasetemp().parent / "demo-templates"
        root.mkdir(exist_ok=True)
        yield DemoFiles(root)
    else:
        yield DemoFiles(tmp_path_factory.mktemp("demo-templates"))
