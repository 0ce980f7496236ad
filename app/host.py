"""Starts the Streamlit server inside the calling process (the owner, `goldenloop serve`), with
the options users see.

It lives with the app, not in the library, so that `src/goldenloop` never imports Streamlit:
the server imports it (``goldenloop_app.host``) only when it serves.
"""

from __future__ import annotations

import sys
from pathlib import Path

from streamlit import config as st_config
from streamlit.web import bootstrap

# Streamlit reads .streamlit/config.toml only from the working directory, and an installed
# goldenloop has none: the options are set here. The checkout's .streamlit/config.toml (for
# `streamlit run app/streamlit_app.py`) says the same; a test keeps the two equal.
OPTIONS: dict[str, object] = {
    "server.headless": True,
    "server.fileWatcherType": "none",
    "server.runOnSave": False,
    "browser.gatherUsageStats": False,
    "client.toolbarMode": "minimal",
    "theme.base": "light",
    "theme.primaryColor": "#b8860b",
}


def flags(host: str, port: int) -> dict[str, object]:
    """Streamlit's flag options (``section_name``) for serving on ``host:port``."""
    where = {"server.address": host, "server.port": port,
             "browser.serverAddress": host, "browser.serverPort": port}
    return {name.replace(".", "_"): value for name, value in {**OPTIONS, **where}.items()}


def run(script: Path, host: str, port: int) -> None:
    """Serve ``script`` on ``host:port`` until the server is stopped (blocks)."""
    options = flags(host, port)
    st_config._main_script_path = str(script)
    bootstrap.load_config_options(flag_options=options)
    sys.argv = ["streamlit", "run", str(script)]
    bootstrap.run(str(script), False, [], options)
