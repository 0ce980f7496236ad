"""Starts the Streamlit server inside the calling process (the owner, `goldenloop serve`), with
the options users see.

It lives with the app, not in the library, so that `src/goldenloop` never imports Streamlit:
the server imports it (``goldenloop_app.host``) only when it serves.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from streamlit import config as st_config
from streamlit.web import bootstrap

from goldenloop_app.monitor import warm as monitor_warm

# Streamlit reads .streamlit/config.toml only from the working directory, and an installed
# goldenloop has none: the options are set here. The checkout's .streamlit/config.toml (for
# `streamlit run app/streamlit_app.py`) says the same; a test keeps the two equal.
OPTIONS: dict[str, object] = {
    "server.headless": True,
    "server.fileWatcherType": "none",
    "server.runOnSave": False,
    # Streamlit collects garbage (all generations) after every script run, holding the GIL
    # while the run's last messages wait to be sent: 0.1-0.2 s of each Grade submit on this
    # owner process, which holds a large heap. Python's own collector still runs as usual.
    "runner.postScriptGC": False,
    "browser.gatherUsageStats": False,
    "client.toolbarMode": "minimal",
    "theme.base": "light",
    "theme.primaryColor": "#b8860b",
}


# The trusted-proxy sign-in believes its header only from the proxy's own address, so the app
# must see each connection's real peer. uvicorn (Streamlit's web server) replaces the peer with
# the X-Forwarded-For value when the peer is 127.0.0.1, unless told to trust no forwarder: a
# name that is no address matches none.
NO_FORWARDER = "goldenloop-trusts-no-forwarded-for"


def flags(host: str, port: int, secrets: Path | None = None) -> dict[str, object]:
    """Streamlit's flag options (``section_name``) for serving on ``host:port``, reading
    sign-in settings from ``secrets`` when given (else Streamlit's default secrets files)."""
    where: dict[str, object] = {"server.address": host, "server.port": port,
                                "browser.serverAddress": host, "browser.serverPort": port}
    if secrets is not None:
        where["secrets.files"] = [str(secrets)]
    return {name.replace(".", "_"): value for name, value in {**OPTIONS, **where}.items()}


def run(script: Path, host: str, port: int, secrets: Path | None = None) -> None:
    """Serve ``script`` on ``host:port`` until the server is stopped (blocks)."""
    options = flags(host, port, secrets)
    os.environ["FORWARDED_ALLOW_IPS"] = NO_FORWARDER  # read when the web server starts
    st_config._main_script_path = str(script)
    bootstrap.load_config_options(flag_options=options)
    sys.argv = ["streamlit", "run", str(script)]
    monitor_warm.start()  # fills the Monitor's default view once the runtime is up
    bootstrap.run(str(script), False, [], options)
