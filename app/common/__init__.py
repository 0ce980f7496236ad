"""Helpers shared by several pages: charts, job widgets, span filters and tables, the reviewer identity."""
