"""`goldenloop serve`: the one process that owns the store, runs the workers and hosts the app.

Streamlit runs inside this process (it has no server-start hook, so the owner starts its
workers before the first page view, not from a page). Pages reach the owner's Store through
``owned_store()``: DuckDB refuses a second connection to the file from another process, and
a second configuration of it from the same one.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path

from goldenloop.access import roles, signin
from goldenloop.config import Paths
from goldenloop.errors import GoldenloopError
from goldenloop.schema import open_store
from goldenloop.spanstore import DUCKDB, SpanStore, configured_url, open_span_store
from goldenloop.store import Store, health
from goldenloop.store import owner as owner_file
from goldenloop.workers import Workers

log = logging.getLogger("goldenloop.server")
APP_PACKAGE = "goldenloop_app"  # the app/ folder, installed beside this package (setup.py)
_owned: Store | None = None
_paths: Paths | None = None
_owned_spans: SpanStore | None = None


def owned_store() -> Store | None:
    """The Store this process owns as `goldenloop serve`, or None when not serving."""
    return _owned


def owned_span_store() -> SpanStore | None:
    """The span store `goldenloop serve --spans` opened, or None when not serving."""
    return _owned_spans


def owned_paths() -> Paths | None:
    return _paths


def app_script() -> Path:
    """The Streamlit entry script, ``streamlit_app.py`` of the installed ``goldenloop_app``
    package (the ``app/`` folder of a checkout; the package's folder in site-packages).

    Found without importing the package, so the library itself never imports Streamlit.
    """
    spec = importlib.util.find_spec(APP_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        script = Path(folder) / "streamlit_app.py"
        if script.is_file():
            return script
    raise GoldenloopError(
        f"cannot find the app ({APP_PACKAGE}/streamlit_app.py): reinstall goldenloop "
        "(`pip install goldenloop`, or `pip install -e .` in a checkout)"
    )


def serve(paths: Paths, *, host: str = "127.0.0.1", port: int = 8501, demo_if_new: bool = True,
          demo_spans: int = 200_000, say: Callable[[str], None] = print,
          alerts_file: Path | None = None, lead: str | None = None,
          secrets: Path | None = None, spans_url: str | None = None) -> None:
    """Own the database, start the workers, then run the app until interrupted.

    ``spans_url`` names the span store (``--spans``; else ``$GOLDENLOOP_SPANS``, else
    ``spans.yaml`` beside the database, else the database file itself)."""
    global _owned, _paths, _owned_spans
    running = owner_file.read_owner(paths.owner_file)
    if running:
        raise GoldenloopError(
            f"{paths.db} is already served by process {running.pid} at {running.url}"
        )
    sign_in = _sign_in(secrets)  # a broken sign-in setting stops the start, before any work
    lead = _check_lead(paths, lead)
    spans_at = configured_url(spans_url, paths.data_dir)  # a bad one stops the start here
    paths.ensure()
    is_new = not paths.db.exists()
    store = open_store(paths.db)
    try:
        spans = open_span_store(spans_at, store)
    except GoldenloopError:
        store.close()
        raise
    if is_new and demo_if_new:
        _generate_demo(store, spans, demo_spans, say)
    _owned, _paths, _owned_spans = store, paths, spans
    if spans.dialect != DUCKDB:
        say(f"spans, signals and feedback: {spans.describe()}")
    if lead and roles.claim_first_lead(store, lead, "goldenloop serve --lead"):
        say(f"{lead} is the lead: roles.yaml written beside the database")
    for line in signin.summary(sign_in, host, port):
        say(line)
    url = f"http://{host}:{port}"
    owner_file.write_owner(paths.owner_file, url,
                           None if spans.dialect == DUCKDB else spans.describe())
    health.write_status(paths.db, None, create=True)  # full size now: rewritten in place later
    _import_shared_modules()
    workers = Workers(store, paths, alerts_file=alerts_file, spans=spans).start()
    say(f"goldenloop serving {paths.db} at {url} (Ctrl+C stops it)")
    try:
        _run_streamlit(app_script(), host, port, secrets)
    finally:
        workers.stop()
        try:
            store.checkpoint()
        except GoldenloopError as exc:  # a full disk: the write-ahead log keeps every commit
            log.warning("no checkpoint at stop: %s", exc)
        owner_file.clear_owner(paths.owner_file)
        health.clear_status(paths.db)
        spans.close()
        store.close()
        _owned = _owned_spans = None


# Imported lazily both by the workers' threads (scorers: scikit-learn, scipy) and by the
# pages' threads (altair and pandas): two threads importing these packages at once can meet in
# their circular imports (narwhals.stable.v1 <-> v2 under scikit-learn and altair) and Python
# raises a _DeadlockError in one. Imported once here, before any thread starts.
SHARED_MODULES = ("narwhals.stable.v1", "narwhals.stable.v2", "pandas", "sklearn", "scipy.stats")


def _import_shared_modules() -> None:
    for name in SHARED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional package not installed: no thread imports it either
            continue


def _sign_in(secrets: Path | None) -> signin.SignIn:
    if secrets is not None and not secrets.is_file():
        raise GoldenloopError(f"--secrets {secrets}: no such file")
    return signin.load(secrets if secrets is not None else signin.default_files())


def _check_lead(paths: Paths, lead: str | None) -> str | None:
    """``--lead NAME`` names the first lead when there is no roles.yaml; with one, it must
    already name them (the file decides, and is never rewritten)."""
    if not lead:
        return None
    name = roles.normalize_name(lead)
    found = roles.load(paths.db.parent)
    if found.configured and name not in found.leads:
        raise GoldenloopError(f"--lead {name}: {roles.roles_path(paths.db.parent)} exists and "
                              "does not name them a lead; add them there instead")
    return name


def _generate_demo(store: Store, span_store: SpanStore, spans: int,
                   say: Callable[[str], None]) -> None:
    """The demo history; with ClickHouse, made in the database file, then its spans, signals
    and feedback moved over (keys kept, so its grades and queues still point at them)."""
    from goldenloop import demo

    say(f"New database: generating a demo history of {spans:,} spans (first start only)...")
    last = [-1]

    def progress(fraction: float, message: str) -> None:
        pct = int(fraction * 10) * 10
        if pct != last[0]:
            last[0] = pct
            say(f"  {pct:3d}%  {message}")

    demo.generate(store, spans=spans, progress=progress)
    if span_store.dialect != DUCKDB:
        _move_spans(store, span_store, say)


def _move_spans(store: Store, span_store: SpanStore, say: Callable[[str], None]) -> None:
    from goldenloop.spanstore.migrate import move_all

    report = move_all(store, span_store)
    say(f"  demo moved to {span_store.describe()}: {report.summary()}")


def _run_streamlit(script: Path, host: str, port: int, secrets: Path | None) -> None:
    # The launcher lives with the app (goldenloop_app.host), imported only now, when serving:
    # the library never imports Streamlit itself.
    host_module = importlib.import_module(f"{APP_PACKAGE}.host")
    host_module.run(script, host, port, secrets)
