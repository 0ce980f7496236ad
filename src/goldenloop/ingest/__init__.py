"""Ingest: readers per format, column mapping, vectorized validation, quarantine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from goldenloop.ingest.loader import ImportOptions, ImportResult, import_file

__all__ = ["ImportOptions", "ImportResult", "import_file"]


def __getattr__(name: str) -> object:
    # Imported on first use: the OTLP/HTTP receiver uses the attribute mapping in this package
    # and should not load the file loader (DuckDB, pandas) with it.
    if name in __all__:
        from goldenloop.ingest import loader

        value = getattr(loader, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
