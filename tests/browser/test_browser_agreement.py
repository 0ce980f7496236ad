"""The Agreement page in real headless Chromium over the demo history (with a second judge
version added): the gate per judge version with intervals and the human ceiling, a click
on a confusion-matrix cell listing exactly that cell, "show disagreements" listing exactly
the disagreeing pairs, and the list turned into an adjudication queue."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import browser_support as bs
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from review_support import demo_template  # noqa: F401

from goldenloop.agreement import sql as q
from goldenloop.agreement.scale import label_of
from goldenloop.schema import open_store
from goldenloop.store import Store
from goldenloop.store.grades import insert_grades

pytestmark = pytest.mark.browser
V2 = "v2-strict"
_CHARTS_DRAWN = """(n) => {
    const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
    if (charts.length < n) return false;
    for (const c of charts) if (!c.querySelector('svg.marks .role-mark')) return false;
    return document.querySelector('[data-testid="stSkeleton"]') === null;
}"""


def add_second_judge_version(store: Store, seed: int = 7) -> None:
    """A second version of the demo judge on the same spans: it takes the reviewer's grade
    on most reviewed spans (a better prompt), the first version's grade elsewhere."""
    rng = np.random.default_rng(seed)
    g = store.df("""SELECT * EXCLUDE (grade_id) FROM grades WHERE source = 'judge'""")
    human = store.df("""SELECT span_key, criterion, any_value(value_number) AS hn,
                               any_value(value_label) AS hl
                        FROM grades WHERE source = 'human' GROUP BY ALL""")
    g = g.merge(human, on=["span_key", "criterion"], how="left")
    take = g["hn"].notna() | g["hl"].notna()
    take &= rng.random(len(g)) < 0.85
    g.loc[take, "value_number"] = g.loc[take, "hn"]
    g.loc[take, "value_label"] = g.loc[take, "hl"]
    g["judge_version"] = V2
    g["created_at"] = pd.to_datetime(g["created_at"]) + pd.Timedelta(hours=1)
    g["raw"] = [json.dumps({"explanation": f"v2 reason {i}"}) for i in range(len(g))]
    g = g.drop(columns=["hn", "hl"])
    store.write(insert_grades, pa.Table.from_pandas(g, preserve_index=False))


@pytest.fixture
def db(demo_template: Path, tmp_path: Path) -> Path:  # noqa: F811
    path = tmp_path / "goldenloop.duckdb"
    shutil.copy(demo_template, path)
    with open_store(path) as s:
        add_second_judge_version(s)
        s.checkpoint()
    return path


def expected(db: Path) -> tuple[pd.DataFrame, str]:
    """Correctness pairs of the first judge version (independently of the page), and its
    version name."""
    with open_store(db) as s:
        pairs = q.judge_human_pairs(s, "correctness")
    first = sorted(set(pairs["judge_version"]) - {V2})[0]
    return pairs[pairs["judge_version"] == first], first


def main_text(page) -> str:
    return page.inner_text('[data-testid="stMainBlockContainer"]')


def wait_text(page, text: str, timeout_s: float = 30) -> None:
    page.wait_for_function("(t) => document.body.innerText.includes(t)", arg=text,
                           timeout=timeout_s * 1000)


def test_agreement_page_gate_cells_disagreements_and_adjudication(db: Path, tmp_path: Path
                                                                  ) -> None:
    pairs, first = expected(db)
    differ = pairs[pairs["human"].map(label_of) != pairs["judge"].map(label_of)]
    cell_h, cell_j = "4", "5"  # the lenient judge's most common disagreement
    in_cell = pairs[(pairs["human"].map(label_of) == cell_h)
                    & (pairs["judge"].map(label_of) == cell_j)]
    assert len(in_cell) > 0
    with bs.running_app(db, tmp_path) as url, bs.chromium() as browser:
        page = bs.open_page(browser, f"{url}/agreement?reviewer=lead")
        page.wait_for_function(_CHARTS_DRAWN, arg=3, timeout=60_000)
        # The versions table comes after the charts (a loaded machine draws the charts while
        # the script still runs): read the page once it is there.
        wait_text(page, "Judge versions side by side, on the same items", 120)
        bs.wait_rendered(page)
        text = main_text(page)
        bs.screenshot(page, "agreement-page")
        # The answer first: a verdict per judge version, with its interval and the ceiling.
        assert text.count("Fit for use") + text.count("Not fit for use") == 2
        assert "95% interval" in text and "reviewers among themselves" in text
        assert "Judge versions side by side, on the same items" in text
        assert "Hollow points: windows with fewer than" in text  # small windows kept, marked

        # "Show disagreements": exactly the differing pairs of the first judge version.
        page.get_by_text("Show disagreements").click()
        wait_text(page, f"{len(differ):,} pairs where judge and reviewer disagree")
        bs.wait_rendered(page)
        bs.screenshot(page, "agreement-disagreements")

        # A click on the (4, 5) cell lists exactly that cell. Cells are drawn in the data's
        # order: reviewer grade major, judge grade minor, over the scale's 5 categories.
        cells = page.locator('[data-testid="stVegaLiteChart"] g.mark-rect path')
        index = (int(cell_h) - 1) * 5 + (int(cell_j) - 1)
        cells.nth(index).click()
        wait_text(page, f"{len(in_cell):,} pairs where reviewer said '{cell_h}', judge said "
                        f"'{cell_j}'")
        bs.wait_rendered(page)
        bs.screenshot(page, "agreement-cell")

        # Select every listed row (the grid's header box), then queue the selected spans.
        grid = page.locator('[data-testid="stDataFrame"]').last
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 16, box["y"] + 18)
        wait_text(page, f"{len(in_cell):,} selected")
        page.get_by_role("button", name="Make an adjudication queue").click()
        wait_text(page, "flagged as adjudication")
        bs.screenshot(page, "agreement-queue")

        # Another criterion (nominal): its own judges, gate statistic and matrix.
        # (the sidebar's first selectbox picks a known reviewer: choose the Criterion one)
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
            has_text="Criterion").click()
        page.get_by_role("option", name=re.compile(r"^tone \(nominal\)")).click()
        wait_text(page, "tone (nominal), rubric")
        wait_text(page, "Cohen's kappa")  # the gate statistic of nominal criteria
        page.wait_for_function(_CHARTS_DRAWN, arg=3, timeout=60_000)
        # The run ends with the disagreement list, below the charts: until then the last
        # run's message may still stand.
        page.wait_for_function("() => !document.body.innerText.includes('flagged as adjudication')",
                               timeout=60_000)
        bs.wait_rendered(page)
        text = main_text(page)
        assert "Traceback" not in text and "flagged as adjudication" not in text
        assert text.count("Fit for use") + text.count("Not fit for use") == 2
        bs.screenshot(page, "agreement-tone")
    with open_store(db) as s:
        queues = s.df("SELECT queue_id, purpose FROM queues")
        assert len(queues) == 1 and queues["purpose"].iloc[0] == "adjudication"
        items = s.df("SELECT span_key FROM queue_items")
    assert sorted(items["span_key"]) == sorted(set(in_cell["span_key"]))
    assert first != V2
