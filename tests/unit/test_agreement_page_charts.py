"""The Agreement page's charts over the demo history: every spec valid Vega-Lite, data
attached by name, and the confusion matrix with its clickable cells in reading order."""

from __future__ import annotations

import pytest
from review_support import demo_store, demo_template  # noqa: F401

from goldenloop.agreement import criterion_report as pdata
from goldenloop.agreement.gate import default_rule
from goldenloop_app.agreement import charts


@pytest.fixture
def page(demo_store):  # noqa: F811
    return pdata.agreement_page(demo_store, pdata.PageQuery(
        pdata.PageFilter("correctness"), default_rule("ordinal"), n_resamples=100))


@pytest.mark.slow
def test_every_chart_is_valid_vega_lite(page) -> None:
    key = sorted(page.confusion)[0]
    built = {
        "figures": charts.figures_chart(page.judges, page.humans, 0.6),
        "confusion": charts.confusion_chart(page.confusion[key]),
        "over_time": charts.over_time_chart(page.over_time, page.query.rule.statistic, 0.8, 0.6),
    }
    for name, chart in built.items():
        chart.chart.to_dict(validate=True)  # raises on an invalid spec
        spec = chart.vega_spec()
        assert set(spec["datasets"]) == set(chart.datasets), name
        assert all(len(d) for d in chart.datasets.values()), name


def test_confusion_cells_in_reading_order_with_a_cell_selection(page) -> None:
    key = sorted(page.confusion)[0]
    table = page.confusion[key]
    chart = charts.confusion_chart(table)
    cells = chart.datasets["confusion"]
    cats = [str(c) for c in table.index]
    assert list(zip(cells["human"], cells["judge"], strict=True)) == [
        (h, j) for h in cats for j in cats]
    assert cells["count"].tolist() == table.to_numpy().ravel().tolist()
    spec = chart.vega_spec()
    assert spec["params"][0]["name"] == charts.CELL
    assert spec["params"][0]["select"]["fields"] == ["human", "judge"]
    # Literal text colours beside a count colour scale: the two must not be merged, or
    # Vega draws nothing at all.
    assert spec["resolve"]["scale"]["color"] == "independent"


def test_the_figures_chart_puts_the_reviewers_on_the_rows_they_bound(page) -> None:
    data = charts.figures_chart(page.judges, page.humans, 0.6).datasets["figures"]
    humans = data[data["who"] == charts.HUMANS]
    assert humans["label"].tolist() == ["Krippendorff's alpha"]  # no pairwise kappa: too few
    assert not data["label"].isin(["mean absolute error", "bias (judge minus human)"]).any()
