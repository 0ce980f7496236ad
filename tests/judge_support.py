"""Judge definitions shared by the judge editing tests (CLI, app, browser) and the random
judge over a demo template shared by the bad-judge tests."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from openai_loopback import judged_text, verdict
from review_support import DEMO_END

from goldenloop import judge

FAST = judge.Retry(max_attempts=4, base_s=0.01, cap_s=0.05)
STRICT = "Grade strictly: a wrong answer gets a 1."


def _script(body: dict):
    """The fixed prompt (STRICT in its system message) grades right; the old one at random."""
    text = judged_text(body, "output") or ""
    if STRICT in body["messages"][0]["content"]:
        return verdict(reason="strict", score=5 if text == "good" else 1)
    return verdict(reason="random", score=1 + zlib.crc32(body["messages"][1]["content"].encode()) % 5)


def _random_judge(body: dict):
    """A score from 1 to 5 that depends on nothing but a hash of the answer: no information."""
    text = judged_text(body, "output") or ""
    return verdict(reason="random", score=1 + zlib.crc32(text.encode()) % 5)


@pytest.fixture(scope="module")
def demo_template(demo_files) -> Path:
    return demo_files.template(spans=5000, end=DEMO_END)  # shared with other modules: copy it
