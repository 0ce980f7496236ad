"""Starts the Streamlit server inside the calling process (the owner, `goldenloop serve`).

It lives with the app, not in the library, so that `src/goldenloop` never imports Streamlit:
the server loads this file by path from the app folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

from streamlit import config as st_config
from streamlit.web import bootstrap


def run(script: Path, host: str, port: int) -> None:
    """Serve ``script`` on ``host:port`` until the server is stopped (blocks)."""
    flags = {
        "server_address": host,
        "server_port": port,
        "server_headless": True,
        "server_fileWatcherType": "none",
        "server_runOnSave": False,
        "browser_gatherUsageStats": False,
        "browser_serverAddress": host,
        "browser_serverPort": port,
        # The project's .streamlit/config.toml is read only from the working directory, and
        # `goldenloop serve` runs from anywhere: the settings users see are repeated here.
        "client_toolbarMode": "minimal",
        "theme_base": "light",
        "theme_primaryColor": "#b8860b",
    }
    st_config._main_script_path = str(script)
    bootstrap.load_config_options(flag_options=flags)
    sys.argv = ["streamlit", "run", str(script)]
    bootstrap.run(str(script), False, [], flags)
