"""The Judges page (``judges.py``), its panels and the judge edit panel."""
