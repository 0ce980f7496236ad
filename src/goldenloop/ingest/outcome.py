"""What an import is asked and what it answers (``ImportOptions``, ``ImportResult``), and the
one read of a file that hashes it, counts its lines and checks its encoding (``scan_file``).

Shared by the span loader (``loader``) and the grade loader (``grade_tables``): both import
from here, so neither imports the other's module at load time.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from goldenloop.ingest.encoding import Encoding


@dataclass
class ImportOptions:
    format: str | None = None  # auto-detected when None
    mapping: dict = field(default_factory=dict)  # span field -> column, or {"grades": ...}
    redact: bool = False
    batch_input: Path | None = None  # OpenAI Batch API input file, for the messages
    origin: str = "cli"
    prices: str | None = None  # extra price table
    encoding: str | None = None  # text encoding of CSV/TSV/JSONL; guessed when None
    line_count: int | None = None  # set by the loader from its one read of the file
    text_encoding: Encoding | None = None  # the encoding chosen, set by the loader
    careful: bool = False  # JSON Lines line by line (set when the fast read cannot go on)
    # JSON Lines rows validated and inserted at a time: memory holds one batch, not the file
    # (rows repeating an earlier batch's ids are then duplicates or conflicts of stored spans)
    batch_rows: int | None = 200_000


@dataclass
class ImportResult:
    file: str
    format: str
    import_id: int
    rows_read: int
    imported: int
    duplicates: int
    quarantined: int
    unknown_price: list[tuple[str, int]]
    seconds: float
    bad_rows: list[tuple[int, str, str]]  # first few (row, field, reason)
    already_imported: bool = False
    details: dict = field(default_factory=dict)  # grade imports: items, out-of-scale, ...
    conflicts: int = 0  # same ids as a stored span (or an earlier row), other content
    notes: list[str] = field(default_factory=list)  # encoding read with, unmapped columns

    @property
    def ok(self) -> bool:
        return self.quarantined == 0 and self.conflicts == 0


@dataclass(frozen=True)
class FileFacts:
    digest: str  # sha256 of the content
    lines: int
    head: bytes  # the first bytes (a byte-order mark)
    utf8: bool  # every byte is UTF-8


def file_hash(path: Path) -> str:
    return scan_file(path).digest


def scan_file(path: Path) -> FileFacts:
    """Hash, lines, first bytes and whether it is all UTF-8, in one read of the file."""
    digest, lines, last, head = hashlib.sha256(), 0, b"\n", b""
    decoder, utf8 = codecs.getincrementaldecoder("utf-8")(), True
    with open(path, "rb") as fh:
        while block := fh.read(16 << 20):
            digest.update(block)
            lines += block.count(b"\n")
            last = block[-1:]
            head = head or block[:4]
            if utf8:
                utf8 = _decodes(decoder, block, final=False)
    utf8 = utf8 and _decodes(decoder, b"", final=True)
    return FileFacts(digest.hexdigest(), lines + (0 if last == b"\n" else 1), head, utf8)


def _decodes(decoder: codecs.IncrementalDecoder, block: bytes, final: bool) -> bool:
    # ASCII, the usual case, is checked in C without building a string.
    if block.isascii() and not decoder.getstate()[0]:
        return True
    try:
        decoder.decode(block, final)
        return True
    except UnicodeDecodeError:
        return False
