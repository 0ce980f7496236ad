"""The installable app: a wheel built from this checkout and installed into a fresh virtual
environment in another folder serves the whole app with `goldenloop serve` (issue 15).

The wheel is built from a copy of the sources (the build leaves nothing in the checkout) and
installed with ``--no-deps``; the virtual environment reaches the dependencies already installed
for the tests through a ``.pth`` line naming their folder. A line adds the folder only: the
``.pth`` files inside it are not run, so the checkout's editable install is invisible there and
``goldenloop`` and ``goldenloop_app`` can come only from the wheel (the first test checks it).
Installing the dependencies afresh instead took 5 minutes here (965 MB of files), against
seconds for this; the wheel declares the same dependencies as the editable install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import browser_support as bs
import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["pyproject.toml", "setup.py", "README.md", "src", "app"]
DEMO_SPANS = 2000
# What pip says when it cannot fetch the build backend (no registry): then the wheel cannot be
# built here at all, which is a reason to skip, not a failure of the packaging.
NO_REGISTRY = ("No matching distribution found", "Could not find a version that satisfies",
               "Failed to establish a new connection", "Network is unreachable")

pytestmark = pytest.mark.slow


def _run(cmd: list, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("GOLDENLOOP_")}
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def build_wheel(work: Path) -> Path:
    """The wheel of a copy of the checkout's sources, built by pip as a user's pip would."""
    src = work / "sources"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    out = work / "dist"
    done = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, src], work)
    if done.returncode != 0:
        if any(s in done.stderr for s in NO_REGISTRY):
            pytest.skip(f"cannot fetch the build backend to build the wheel: {done.stderr[-300:]}")
        raise AssertionError(f"building the wheel failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    (wheel,) = out.glob("goldenloop-*.whl")
    return wheel


def shipped_sources(sources: Path) -> set[str]:
    """Every file of the library and the app, by the path it has once installed."""
    found = set()
    for folder, package in (("src/goldenloop", "goldenloop"), ("app", "goldenloop_app")):
        base = sources / folder
        found |= {f"{package}/{p.relative_to(base).as_posix()}" for p in base.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts}
    return found


def install(wheel: Path, work: Path) -> Path:
    """A fresh virtual environment with the wheel installed; its folder."""
    venv = work / "venv"
    done = _run([sys.executable, "-m", "venv", "--without-pip", venv], work)
    assert done.returncode == 0, done.stderr
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     work).stdout.strip())
    # The test interpreter's installed packages (its own and, from a venv made with
    # --system-site-packages, the base's), added by path: their .pth files are not run, so an
    # editable install of the checkout cannot shadow the wheel.
    deps = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
                   *(p for p in sys.path if p.endswith("site-packages"))})
    (site / "_tested_dependencies.pth").write_text("\n".join(deps) + "\n")
    done = _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
                 "--ignore-installed", "--no-warn-script-location", wheel], work)
    assert done.returncode == 0, f"installing the wheel failed:\n{done.stderr[-3000:]}"
    return venv


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[dict]:
    """Build, install, then `goldenloop serve` from a folder outside the checkout on a new
    database (the server generates its demo); yields what the tests need, with timings."""
    work = tmp_path_factory.mktemp("wheel")
    t0 = time.monotonic()
    wheel = build_wheel(work)
    t_build = time.monotonic() - t0
    venv = install(wheel, work)
    t_install = time.monotonic() - t0 - t_build
    run_dir = work / "elsewhere"
    run_dir.mkdir()
    port = bs.free_port()
    log = work / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("GOLDENLOOP_")}
    cmd = [venv / "bin" / "goldenloop", "serve", "--db", run_dir / "demo.duckdb", "--port", port,
           "--demo-spans", DEMO_SPANS]
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(c) for c in cmd], cwd=run_dir, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        bs.wait_healthy(url, proc, log, timeout=300)
        t_serve = time.monotonic() - t0 - t_build - t_install
        print(f"wheel: build {t_build:.1f} s, venv and install {t_install:.1f} s, serve until "
              f"healthy {t_serve:.1f} s (demo of {DEMO_SPANS:,} spans)")
        yield {"venv": venv, "url": url, "run_dir": run_dir, "log": log, "wheel": wheel,
               "sources": work / "sources"}
    finally:
        bs.stop(proc)


def test_the_wheel_holds_every_file_of_the_library_and_the_app(served: dict) -> None:
    # A folder without __init__.py, or a data file no package-data pattern names, would work
    # from a checkout and be missing once installed.
    with zipfile.ZipFile(served["wheel"]) as whl:
        shipped = {n for n in whl.namelist() if n.split("/")[0] in ("goldenloop", "goldenloop_app")}
    sources = shipped_sources(served["sources"])
    assert "goldenloop_app/review/keyboard.js" in sources
    assert sources - shipped == set()
    assert shipped - sources == set()


def test_the_app_and_library_come_from_the_wheel(served: dict) -> None:
    venv = served["venv"]
    probe = ("import json, goldenloop, goldenloop_app, goldenloop.server as s\n"
             "from goldenloop_app.review.grading import keyboard_script\n"
             "print(json.dumps([goldenloop.__file__, goldenloop_app.__file__, str(s.app_script()),"
             " keyboard_script()]))")
    done = _run([venv / "bin" / "python", "-c", probe], served["run_dir"])
    assert done.returncode == 0, done.stderr
    lib, app, script, keys = json.loads(done.stdout)
    for path in (lib, app, script):
        assert Path(path).resolve().is_relative_to(venv.resolve()), path
        assert not Path(path).resolve().is_relative_to(ROOT), path
    assert Path(script).name == "streamlit_app.py"
    # The keyboard script is package data: read from the installed package, not the checkout.
    assert keys.startswith("<script>") and "glKeys" in keys


def test_the_installed_server_answers_and_draws_home_and_grade(served: dict) -> None:
    url = served["url"]
    with bs.chromium() as browser:
        page = bs.open_page(browser, url)
        main = page.inner_text('[data-testid="stMainBlockContainer"]')
        # The demo the server generated, counted, and Home's links to the other pages.
        found = re.search(r"^Spans\s+([\d,]+)$", main, re.MULTILINE)
        assert found, main[:1500]
        spans = int(found.group(1).replace(",", ""))
        assert 0.8 * DEMO_SPANS < spans < 1.2 * DEMO_SPANS, main[:1500]
        for title in ("Monitor", "Anomalies", "Judges", "Agreement", "Golden sets", "Imports"):
            assert re.search(f"^{title}$", main, re.MULTILINE), (title, main[:1500])
        assert page.locator('[data-testid="stException"]').count() == 0
        # The project's .streamlit/config.toml is absent here: the toolbar and theme set by the
        # server must still hold (no Deploy button; the primary colour on primary buttons).
        assert page.locator('[data-testid="stAppDeployButton"]').count() == 0
        page.close()
        page = bs.open_page(browser, f"{url}/grade?reviewer=ana&queue=1")
        page.wait_for_function("() => document.documentElement.dataset.glKeys === 'ready'",
                               timeout=60_000)  # keyboard.js ran in the browser
        submit = page.locator(".st-key-gl_submit button").first
        submit.wait_for(timeout=30_000)
        colour = submit.evaluate("b => getComputedStyle(b).backgroundColor")
        assert colour == "rgb(184, 134, 11)", colour  # theme.primaryColor #b8860b
        assert page.locator('[data-testid="stException"]').count() == 0
    log = served["log"].read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
