"""Ingest: readers per format, column mapping, vectorized validation, quarantine."""

from goldenloop.ingest.loader import ImportOptions, ImportResult, import_file

__all__ = ["ImportOptions", "ImportResult", "import_file"]
