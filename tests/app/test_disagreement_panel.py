"""The Agreement page's disagreement list in-process (AppTest over the demo database): the gap
filter and order shape the table, each row links to its trace, and the adjudication button
queues the selected rows only (nothing selected: nothing to queue)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from app_support import app_page
from review_support import demo_template  # noqa: F401  (fixture)

from goldenloop.agreement import criterion_report as pdata
from goldenloop.schema import open_store


@pytest.fixture
def demo_db(app_db: Path, demo_template: Path) -> Path:  # noqa: F811
    shutil.copy(demo_template, app_db)
    return app_db


def _table(at):
    return next(d for d in at.dataframe if "gap" in d.value.columns)


def test_filter_sort_link_and_queue_the_selected_rows(demo_db: Path) -> None:
    at = app_page("agreement", params={"reviewer": "ana"}, timeout=120)
    at.toggle(key="show_disagreements").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    everything = _table(at).value
    assert everything["gap"].is_monotonic_decreasing  # largest gap first by default
    assert everything["link"].str.startswith("trace?trace=").all()
    button = next(b for b in at.button if b.key == "make_adjudication")
    assert button.disabled  # nothing selected yet

    at.select_slider(key="dis_min_gap").set_value(2.0).run()
    wide = _table(at).value
    assert (wide["gap"] >= 2).all() and 0 < len(wide) == (everything["gap"] >= 2).sum() < len(everything)
    at.select_slider(key="dis_min_gap").set_value(1.0).run()

    at.selectbox(key="dis_order").set_value("newest").run()
    table = _table(at)
    assert table.value["start_time"].is_monotonic_decreasing
    # Select two rows, as a click on their boxes does, and queue them.
    at.session_state[_key(demo_db)] = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    button = next(b for b in at.button if b.key == "make_adjudication")
    assert not button.disabled and "2 selected spans" in button.label
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    chosen = table.value.iloc[[0, 1]]["link"].str.extract(r"span=([^&]+)")[0].tolist()
    with open_store(demo_db) as s:
        queued = s.df("""SELECT s.span_id FROM queue_items i JOIN queues q USING (queue_id)
                         JOIN spans s ON s.span_key = i.span_key
                         WHERE q.purpose = 'adjudication'""").span_id.tolist()
    assert sorted(queued) == sorted(set(chosen))


def _key(db: Path) -> str:
    """The table's key as the page makes it: criterion, judge, cell, order and gap."""
    with open_store(db) as s:
        judge = sorted(pdata.choices(s, "correctness").judges)[0]
    return f"disagreement_list:correctness:{judge}:None:newest:1.0"
