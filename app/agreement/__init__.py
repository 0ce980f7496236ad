"""The Agreement page (``agreement.py``), its charts and the one-judge-across-slices section."""
