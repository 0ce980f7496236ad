"""The Monitor page (``monitor.py``), its charts and its quality estimates."""
