"""Over the demo history, scored by the real offline scorers, version comparison flags the
silent provider update: the new gpt-4o snapshot answers longer (characters and output
tokens) and in another tone (more positive, effusive sentiment), while the error and
timeout rates that the update did not change stay unflagged."""

from __future__ import annotations

import pytest
from review_support import demo_store, demo_template  # noqa: F401  (fixtures)

from goldenloop import metrics as M
from goldenloop.demo.incidents import NEW_4O, OLD_4O
from goldenloop.scorers import score_spans


@pytest.fixture
def scored(demo_store):  # noqa: F811
    assert score_spans(demo_store).spans > 0
    return demo_store


@pytest.mark.slow
def test_the_silent_update_is_flagged_for_length_and_tone(scored) -> None:
    sides = M.version_sides("support-bot", "model_version", OLD_4O, NEW_4O)
    result = M.compare(scored, sides)
    flagged = result.flagged.set_index("key")
    for key in ("output_chars", "output_tokens", "output_sentiment"):
        assert key in flagged.index, result.table
        assert flagged.loc[key, "verdict"] == "higher in B"
        assert flagged.loc[key, "ci_low"] > 0
    # Longer by far more than the 10% threshold, not just significantly.
    assert flagged.loc["output_chars", "rel_diff"] > 0.3
    table = result.table.set_index("key")
    for key in ("error_rate", "timeout_rate"):  # failures the update did not change
        assert not table.loc[key, "flag"], table.loc[key]
    assert len(flagged) < len(result.table) / 2  # the flags single out the changes


@pytest.mark.slow
def test_a_window_across_the_update_flags_the_length_too(scored) -> None:
    incidents = M.incidents(scored, M.SpanFilter()).set_index("kind")
    update = incidents.loc["token_drift", "starts_at"].to_pydatetime()
    dims = M.dimensions(scored)
    week = update - dims.first
    sides = M.window_sides("support-bot", (dims.first, update), (update + (week / 5), dims.last),
                           model_versions=())
    flagged = M.compare(scored, sides).flagged
    assert "output_chars" in set(flagged["key"]), flagged
