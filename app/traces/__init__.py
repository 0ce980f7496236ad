"""The Traces page: spans behind a chart, one trace as a tree, one conversation."""
