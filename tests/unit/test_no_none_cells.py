"""No table of the app shows a raw "None": Streamlit draws a missing value as the word None
unless ``st.dataframe`` is given a placeholder, so every dataframe call in the app names one
(a new table without it fails here, with its file and line)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"


def _calls(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("dataframe", "data_editor")):
            yield node


@pytest.mark.slow
def test_every_dataframe_in_the_app_has_a_missing_value_placeholder() -> None:
    seen, missing = 0, []
    for path in sorted(APP.rglob("*.py")):
        for call in _calls(path):
            seen += 1
            if not any(k.arg == "placeholder" for k in call.keywords):
                missing.append(f"{path.relative_to(APP)}:{call.lineno}")
    assert seen > 40  # the scan finds the app's tables
    assert not missing, f"dataframes without placeholder=: {missing}"
