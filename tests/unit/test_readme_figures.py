"""The figures the README quotes about the demo are the ones the app computes: the script
that prints them runs on the demo the README names, and the README must say the same."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from goldenloop.demo import generate
from goldenloop.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("demo_figures", ROOT / "scripts" /
                                                  "demo_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_quotes_the_demo_queue_estimates(tmp_path: Path):
    figures = _script()
    with Store(tmp_path / "demo.duckdb") as s:
        generate(s, end=figures.README_END)  # the default size and seed, as the README says
        said = figures.sentence(figures.figures(s))
    readme = re.sub(r"\s+", " ", (ROOT / "README.md").read_text())
    assert said in readme, said
    assert f"ending {figures.README_END:%Y-%m-%d %H:%M} UTC" in readme
