"""The figures the docs quote are the ones the code computes, wherever the docs now keep them.

- docs/demo.md: the demo queue's estimates, as ``scripts/demo_figures.py`` prints them for the
  demo the page names;
- docs/agreement.md: the published agreement examples, recomputed with the library;
- docs/operator.md: the redaction recall table, recomputed on the labelled set of
  ``test_redact_recall``;
- docs/operator.md and benchmarks/RESULTS.md: the receiver's memory ceiling, the one its
  test asserts.

Benchmark figures come from the scripts benchmarks/RESULTS.md names beside each of them.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from goldenloop.agreement import nominal
from goldenloop.agreement.alpha import krippendorff_alpha
from goldenloop.demo import generate

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _read(path: Path) -> str:
    return re.sub(r"\s+", " ", path.read_text())


def _script():
    spec = importlib.util.spec_from_file_location("demo_figures", ROOT / "scripts" /
                                                  "demo_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # generates the default-size demo (about 10-30 s)
def test_the_demo_page_quotes_the_demo_queue_estimates(store):
    figures = _script()
    generate(store, end=figures.README_END)  # the default size and seed, as the page says
    said = figures.sentence(figures.figures(store))
    page = _read(DOCS / "demo.md")
    assert said in page, said
    assert f"ending {figures.README_END:%Y-%m-%d %H:%M} UTC" in page


def test_the_published_agreement_examples_are_what_the_library_computes():
    # Gwet's irrCAC README, data set cont3x3abstractors (the same table as test_agreement_stats).
    t = np.array([[13, 0, 0], [0, 20, 7], [0, 4, 56]], dtype=float)
    irrcac = (f"kappa {nominal.cohen_kappa(t):.4f}, AC1 {nominal.gwet_ac1(t):.4f}, "
              f"alpha {nominal.pair_alpha(t, 'nominal'):.4f}")
    # Krippendorff (2011), 4 observers x 12 units with missing values.
    n = np.nan
    data = np.array([[1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
                     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
                     [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
                     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]])
    unit = np.tile(np.arange(12), 4)
    a = {m: krippendorff_alpha(unit, data.ravel() - 1, m, k=5)
         for m in ("nominal", "ordinal", "interval")}
    kripp = (f"alpha {a['nominal']:.3f} nominal, {a['ordinal']:.3f} ordinal, "
             f"{a['interval']:.3f} interval")
    page = _read(DOCS / "agreement.md")
    assert f"Gwet's irrCAC example ({irrcac})" in page, irrcac
    assert f"Krippendorff's 2011 example ({kripp})" in page, kripp


def test_the_redaction_recall_table_is_what_the_detectors_reach():
    import redact_support as rr  # the labelled set (tests/redact_support.py)

    sets = {"e-mail": rr.emails(), **rr.phones(), "API key / secret": rr.keys(),
            "IP address": rr.ips(), "card number": rr.cards()}
    computed = [(len(items), f"{rr.recall(items)[0]:.0%}") for items in sets.values()]
    changed = [s for s in rr.NEGATIVES if rr.redact_text(s) != s]
    computed.append((len(rr.NEGATIVES), f"{len(changed) / len(rr.NEGATIVES):.1%}"))
    text = (DOCS / "operator.md").read_text()
    table = text[text.index("| kind | strings | recall |"):].split("\n\n", 1)[0]
    rows = [r.split("|") for r in table.splitlines()[2:]]
    said = [(int(r[-4].strip().replace(",", "")), r[-3].strip()) for r in rows]
    assert said == computed


def test_the_receiver_memory_ceiling_is_the_one_its_test_asserts():
    test = (ROOT / "tests" / "system" / "test_collector_bounds.py").read_text()
    ceiling = int(re.search(r"^RSS_CEILING_MB = (\d+)$", test, re.M).group(1))
    for doc in (DOCS / "operator.md", ROOT / "benchmarks" / "RESULTS.md"):
        assert f"under **{ceiling} MB**" in _read(doc), doc.name
