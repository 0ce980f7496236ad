"""Detections against known incidents (the demo's ``demo_incidents``, or any table of the
same shape): which incidents an anomaly found, and which anomalies match no incident.

An anomaly matches an incident when it concerns the incident's app (any app when the
incident names none), its window overlaps the incident's (one hour of slack on each side
for bucket edges; for a lasting change with no end, the anomaly starts within a day of it),
and, when the anomaly is about a model version and the incident names one, it is that
version.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from goldenloop.anomalies.records import list_anomalies
from goldenloop.store import Store
from goldenloop.store.incidents import list_incidents

SLACK = timedelta(hours=1)
# A lasting change (no end) is found by anomalies starting within a day of it: a level shift
# is placed on the day it happened, and anything starting days later is another matter.
STEP_SLACK = timedelta(hours=24)


def matches(anomaly, incident: dict) -> bool:
    if incident["app"] is not None and anomaly.app != incident["app"]:
        return False
    if (incident.get("model_version") and anomaly.dimension == "model_version"
            and anomaly.value != incident["model_version"]):
        return False
    start = incident["starts_at"]
    if incident["ends_at"] is None:  # a lasting change: what it causes starts with it
        return abs(anomaly.window_start - start) <= STEP_SLACK
    return anomaly.window_start < incident["ends_at"] + SLACK and anomaly.window_end > start - SLACK


def against_incidents(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(incidents with the ids of the anomalies that found them and whether those have
    example spans, anomalies that match no incident)."""
    incidents = list_incidents(store.cursor())
    found = list_anomalies(store, limit=100_000)
    rows, matched = [], set()
    for inc in incidents:
        ids = [int(a.anomaly_id) for a in found.itertuples() if matches(a, inc)]
        with_examples = [int(a.anomaly_id) for a in found.itertuples()
                         if a.anomaly_id in ids and _count(a.example_span_keys) > 0]
        matched.update(ids)
        rows.append({**inc, "found": bool(ids), "anomalies": ids,
                     "with_examples": with_examples})
    false = found[~found["anomaly_id"].isin(matched)].reset_index(drop=True)
    return pd.DataFrame(rows), false


def _count(keys) -> int:
    return 0 if keys is None else len(keys)
