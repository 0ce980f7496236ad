"""Alert rules over monitored metrics and anomalies, their states, and notifications through
webhooks and apprise (see docs/alerts.md).

    settings = alerts.load_and_sync(store, alerts.alerts_file_path(data_dir))
    result = alerts.check(store, settings)          # every enabled rule, once
    alerts.check(store, settings, due_only=True)    # what the owner's thread runs

Rules come from ``alerts.yaml`` (kept in git; loaded at start) and from the Alerts page.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

# Loaded on first use: the migration runner imports ``goldenloop.alerts.schema`` while the
# store is being imported, and the functions here need the store.


def __getattr__(name: str) -> Any:
    if name.startswith("__") or importlib.util.find_spec(f"{__name__}.{name}") is not None:
        # a submodule (`from goldenloop.alerts import records`): let the import system load it
        raise AttributeError(name)
    api = importlib.import_module("goldenloop.alerts.api")
    if name in api.__all__:
        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(importlib.import_module("goldenloop.alerts.api").__all__)
