"""The Argilla round trip: push review queues and golden set versions to an Argilla server
as datasets, pull annotators' responses back as grades and corrections (for a golden set, a
new reviewed version with its provenance); named so as not to shadow ``argilla``.

    from goldenloop import argilla_sync
    argilla_sync.push_queue(store, queue_id, pushed_by="lea", workspace="team")
    argilla_sync.pull(store, "lea")            # every linked dataset, incremental
    argilla_sync.status(store)                 # per queue: in Argilla, submitted, pulled, when
    argilla_sync.push_golden(store, "answers@3", pushed_by="lea", workspace="team")
    argilla_sync.pull(store, "lea", golden="answers")  # reviews in; makes the reviewed version

The server's URL and key are read from environment variables whose names are kept
(default ARGILLA_API_URL / ARGILLA_API_KEY); see docs/argilla.md.
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use: the store's migration list imports ``argilla_sync.schema``, so this
# package must not import the store (or anything that does) when it is first loaded.
_EXPORTS = {
    "KEY_ENV": "connect", "URL_ENV": "connect", "ArgillaSyncError": "connect",
    "Endpoint": "connect", "PullResult": "pulling", "pull": "pulling", "pull_link": "pulling",
    "PushResult": "push", "external_id": "push", "push_queue": "push", "set_aside": "sql",
    "Status": "report", "status": "report", "push_golden": "golden_push",
    "parse_ref": "golden_push", "golden_links": "report", "links": "sql", "pull_counts": "sql",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"goldenloop.argilla_sync.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
