"""Build and export in one step, as the page's Export button and ``goldenloop golden export
--rebuild`` do, and the same as an owner job for the CLI while a server runs.

Exporting again over unchanged grades writes the same version again (no new version); when
the grades changed, the new version is exported and its diff from the previous one is
returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goldenloop.golden.build import BuildResult, build
from goldenloop.golden.export import FORMATS, ExportResult, export
from goldenloop.golden.filters import GoldenFilter
from goldenloop.golden.versions import Diff, diff
from goldenloop.spanstore.base import SpanStore
from goldenloop.store import Store


@dataclass(frozen=True)
class PublishResult:
    build: BuildResult
    export: ExportResult
    diff: Diff | None        # from the previous version, when this made a new one

    def summary(self) -> str:
        v = self.build.version
        made = "new version" if self.build.created else "unchanged, no new version"
        text = (f"{v.dataset} v{v.version} ({made}, {v.rows:,} rows, hash {v.short_hash}) "
                f"exported to {self.export.folder}")
        return text + (f"; {self.diff.summary()}" if self.diff else "")


def publish(store: Store, name: str, f: GoldenFilter, author: str, out: Path, *,
            formats: Iterable[str] = FORMATS, description: str = "",
            spans: SpanStore | None = None) -> PublishResult:
    built = build(store, name, f, author, description=description, spans=spans)
    done = export(store, name, out, author, version=built.version.version, formats=formats)
    change = None
    if built.created and built.version.version > 1:
        change = diff(store, name, built.version.version - 1, built.version.version)
    return PublishResult(built, done, change)


def golden_job(store: Store, params: dict[str, Any], progress,
               spans: SpanStore | None = None) -> dict[str, Any]:
    """Owner job ``golden``: params ``name``, ``filter`` (a GoldenFilter dict), ``author``,
    ``out`` (absolute folder), optional ``formats`` and ``description``; with ``"build_only":
    true`` it saves the version without writing files."""
    f = GoldenFilter.from_dict(params["filter"])
    progress(0.1, f"building {params['name']}")
    if params.get("build_only"):
        b = build(store, params["name"], f, params["author"],
                  description=params.get("description", ""), spans=spans)
        return {"summary": f"{b.version.dataset} v{b.version.version} "
                           f"({'new' if b.created else 'unchanged'}, {b.version.rows:,} rows)",
                "version": b.version.version, "created": b.created}
    r = publish(store, params["name"], f, params["author"], Path(params["out"]),
                formats=params.get("formats") or FORMATS,
                description=params.get("description", ""), spans=spans)
    return {"summary": r.summary(), "version": r.build.version.version,
            "created": r.build.created, "folder": str(r.export.folder)}
