"""Anomaly detection over every monitored series: seasonal baselines, count-aware rate tests,
change points, new versions and new failure kinds, with example spans (see docs/detection.md).

    result = detect(store)                     # after imports, on a schedule, or from the CLI
    list_anomalies(store, status="open")       # most severe, then most recent, first
    a = get_anomaly(store, anomaly_id)
    window_series(store, a); example_spans(store, a)
    set_status(store, a.anomaly_id, "acknowledged", by="lead")
"""

from __future__ import annotations

import importlib
from typing import Any

# Where each public name lives. Loaded on first use: the store's migration runner imports
# ``anomalies.schema``, which runs this file while the store itself is still loading. (No
# module may share a public function's name: importing it would shadow the function.)
_WHERE = {
    "catalogue": ("DIMENSIONS", "METRICS", "METRIC_NAMES", "Metric", "metric"),
    "detection": ("DEFAULT_SENSITIVITY", "SENSITIVITY_LEVELS", "DetectionResult", "detect"),
    "examples": ("example_spans", "examples_to_queue", "outlier_spans", "window_series"),
    "records": ("KINDS", "SEVERITY_NAMES", "STATUSES", "Anomaly", "anomaly_history",
                "get_anomaly", "list_anomalies", "open_summary", "set_status"),
}
_MODULE = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [
    "DEFAULT_SENSITIVITY", "DIMENSIONS", "KINDS", "METRICS", "METRIC_NAMES",
    "SENSITIVITY_LEVELS", "SEVERITY_NAMES", "STATUSES", "Anomaly", "AnomalyError",
    "AnomalyNotFoundError", "DetectionResult", "Metric", "anomaly_history", "detect",
    "example_spans", "examples_to_queue", "get_anomaly", "list_anomalies", "metric",
    "open_summary", "outlier_spans", "set_status", "window_series",
]


def __getattr__(name: str) -> Any:
    if name in ("AnomalyError", "AnomalyNotFoundError"):
        from goldenloop import errors
        return getattr(errors, name)
    if name not in _MODULE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
