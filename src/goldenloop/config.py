"""Where things live: the database file, its snapshot, the inbox, uploads.

The database path comes from ``--db``, else ``GOLDENLOOP_DB``, else ``data/goldenloop.duckdb``
under the current directory. Everything else is placed beside the database file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DB = Path("data") / "goldenloop.duckdb"


@dataclass(frozen=True)
class Paths:
    db: Path

    @property
    def data_dir(self) -> Path:
        return self.db.parent

    @property
    def snapshot(self) -> Path:
        return self.db.with_name(self.db.stem + ".snapshot.duckdb")

    @property
    def owner_file(self) -> Path:
        return self.db.with_name(self.db.name + ".owner.json")

    @property
    def inbox(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def inbox_done(self) -> Path:
        return self.inbox / "done"

    @property
    def inbox_failed(self) -> Path:
        return self.inbox / "failed"

    @property
    def uploads(self) -> Path:
        return self.data_dir / "uploads"

    def ensure(self) -> Paths:
        for d in (self.data_dir, self.inbox, self.inbox_done, self.inbox_failed, self.uploads):
            d.mkdir(parents=True, exist_ok=True)
        return self


def resolve_paths(db: str | os.PathLike | None = None) -> Paths:
    chosen = db or os.environ.get("GOLDENLOOP_DB") or DEFAULT_DB
    return Paths(Path(chosen).expanduser().resolve())
