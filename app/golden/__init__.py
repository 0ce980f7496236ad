"""The Golden sets page."""
