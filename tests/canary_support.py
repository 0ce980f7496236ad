"""Canary fixtures shared by the canary tests: a loopback endpoint that answers the 20-item
canary set right under the old model version and refuses every fourth item under the new one
(reporting the version it answers as), and the set, the ``live`` target and a suite."""

from __future__ import annotations

import json
from pathlib import Path

import openai_loopback
from openai_loopback import Reply

from goldenloop.experiments import canaries, datasets

OLD, NEW = "model-2026-01", "model-2026-03"
ITEMS = 20


def answer(body: dict, regressed: bool) -> Reply:
    """The right answer to ``prompt N``; a refusal for every fourth N once regressed."""
    n = int(body["messages"][-1]["content"].split()[-1])
    wrong = regressed and n % 4 == 0
    return Reply(content="Sorry, I cannot help." if wrong else f"answer {n}")


class Endpoint:
    """Right under ``OLD``; under ``NEW`` every fourth answer refuses. ``set`` also makes the
    loopback stub report that version (it reports one fixed model otherwise)."""

    def __init__(self, monkeypatch, version: str = OLD):
        self.monkeypatch = monkeypatch
        self.set(version)

    def set(self, version: str) -> None:
        self.version = version
        self.monkeypatch.setattr(openai_loopback, "VERSION", version)

    def __call__(self, body):
        return answer(body, self.version == NEW)


def add_target(store, tmp_path: Path, url: str) -> None:
    """Import the canary set (``canary-set``) and write the ``live`` target pointing at ``url``."""
    path = tmp_path / "canary.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"c{i:02d}", "input": f"prompt {i}",
                                          "expected": f"answer {i}"}) for i in range(ITEMS)))
    datasets.import_file(store, "canary-set", path)
    folder = store.path.parent / "targets"
    folder.mkdir(exist_ok=True)
    (folder / "live.yaml").write_text(f"name: live\nmodel: gpt-4o-mini\ntemplate: '{{{{ input }}}}'\n"
                                      f"endpoint:\n  base_url: {url}\n")


def add_suite(store, name: str = "nightly"):
    """Save an hourly suite of the canary set against ``live``, scored by exact match."""
    return canaries.save(store, canaries.parse({"name": name, "target": "live",
                                                "dataset": "canary-set", "scorers": ["exact"],
                                                "every_minutes": 60}))
