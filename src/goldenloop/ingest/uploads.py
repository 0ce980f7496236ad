"""Files uploaded through the app: kept in ``data/uploads/`` under a safe, unique name, so
the import (often run later by the owner's job runner) reads a stable file."""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def save_upload(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` inside ``folder`` only: path parts of ``name`` are dropped. Every call
    gets its own file, so two uploads of the same name in one submission (or one second)
    never overwrite each other."""
    folder.mkdir(parents=True, exist_ok=True)
    base = _UNSAFE.sub("_", Path(name).name).strip("._") or "upload"
    dest = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}-{base}"
    tmp = dest.with_name("." + dest.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, dest)
    return dest
