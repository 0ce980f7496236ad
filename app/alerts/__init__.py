"""The Alerts page and its rule forms."""
