"""The Monitor's warm-up at server start fills exactly what the page's default view reads:
run in-process over a real DuckDB file, the page then computes no aggregate and builds no chart."""

from __future__ import annotations

from pathlib import Path

from app_support import app_page
from metrics_support import seed

from goldenloop import metrics as M


def counted(monkeypatch) -> dict[str, int]:
    """Count the overview queries and chart builds (the real ones still run)."""
    from goldenloop_app.monitor import charts as monitor_charts

    calls = {"overview_in": 0, "build": 0}

    def wrap(module, name):
        real = getattr(module, name)

        def counting(*a, **k):
            calls[name] += 1
            return real(*a, **k)
        monkeypatch.setattr(module, name, counting)

    wrap(M, "overview_in")  # what the page and the warm-up call, over the span store
    wrap(monitor_charts, "build")
    return calls


def test_default_view_is_served_from_the_warmed_caches(app_db: Path, monkeypatch) -> None:
    from goldenloop_app import state
    from goldenloop_app.monitor import warm

    seed(app_db)
    built = warm.warm(state.get_store())
    calls = counted(monkeypatch)
    at = app_page("monitor")
    assert len(at.get("vega_lite_chart")) > 0
    charts_drawn = sum(len(c.proto.spec) > 0 for c in at.get("vega_lite_chart"))
    assert charts_drawn and built >= charts_drawn
    assert calls == {"overview_in": 0, "build": 0}
    # Another filter than the default is not warmed: the page computes it.
    app_page("monitor", params={"range": "Last 7 days"})
    assert calls["overview_in"] == 1 and calls["build"] > 0


def test_an_empty_store_warms_nothing(app_db: Path) -> None:
    from goldenloop_app import state
    from goldenloop_app.monitor import warm

    assert warm.warm(state.get_store()) == 0
    assert "No LLM requests yet" in app_page("monitor").info[0].value
