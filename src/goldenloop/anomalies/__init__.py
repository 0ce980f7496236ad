"""Anomaly detection over every monitored series: seasonal baselines, count-aware rate tests,
change points, new failure kinds and example spans (see docs/detection.md)."""
