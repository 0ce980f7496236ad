"""Alert rules over monitored metrics and anomalies, their states, and notifications through
webhooks and apprise (see docs/alerts.md)."""
