"""The Agreement page in real headless Chromium opens on any import: judges imported without
a version, a single reviewer, one time point (items carry no time: every pair falls on the
import's moment). Each shape is imported from a file, as a user would, then the page is
opened and must draw a verdict per judge and no error."""

from __future__ import annotations

from pathlib import Path

import browser_support as bs
import pytest
from import_support import _import, _rows

pytestmark = pytest.mark.browser

SHAPES = {
    "judges without versions": (3, [{"columns": ["c0", "c1"], "kind": "reviewer"},
                                    {"columns": ["c2"], "kind": "judge", "name": "gpt"}]),
    "a single reviewer": (2, [{"columns": ["c0"], "kind": "reviewer"},
                              {"columns": ["c1"], "kind": "judge", "name": "j", "version": "v1"}]),
    "one time point": (4, [{"columns": ["c0", "c1", "c2"], "kind": "reviewer"},
                           {"columns": ["c3"], "kind": "judge", "name": "j", "version": "v1"}]),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_agreement_page_draws_every_import_shape(tmp_path: Path, shape: str) -> None:
    cols, raters = SHAPES[shape]
    db = tmp_path / "goldenloop.duckdb"
    assert _import(db, tmp_path, _rows(80, cols), raters).imported > 0
    with bs.running_app(db, tmp_path) as url, bs.chromium() as browser:
        page = bs.open_page(browser, f"{url}/agreement")
        page.wait_for_function(
            "() => /Fit for use|Not fit for use/.test(document.body.innerText)",
            timeout=60_000)
        bs.wait_rendered(page)
        text = page.inner_text('[data-testid="stMainBlockContainer"]')
        bs.screenshot(page, f"agreement-{shape.replace(' ', '-')}")
        assert page.locator('[data-testid="stException"]').count() == 0, text
        assert "quality (interval)" in text
        if shape == "judges without versions":
            assert "(no version)" in text
