"""The Anomalies page and its panels (also drawn on Home)."""
