"""Text encodings of imported files: which one a file is read with, and the lines that cannot
be read with it.

Nothing is ever replaced silently. A file is read as UTF-8 when every byte of it is UTF-8;
a byte-order mark names UTF-8 or UTF-16; a file with no valid multi-byte UTF-8 sequence but
some other high bytes is a single-byte legacy file and is read as Windows-1252 (Latin-1 when
it uses the five bytes Windows-1252 leaves undefined), and the summary says so. A file mixing
UTF-8 with other bytes is read as UTF-8 and each line that is not UTF-8 is quarantined with
its bytes escaped (``\\xe9``), so nothing is lost. ``--encoding`` overrides the guess.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

from goldenloop.errors import ImportFileError

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
# A valid multi-byte UTF-8 sequence (2, 3 or 4 bytes): one of these in a file that is not all
# UTF-8 means the file mixes encodings rather than being a legacy single-byte file.
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
# What the escape handler below leaves for a byte it could not decode.
UNDECODED = re.compile("[\udc00-\udcff]")
ERRORS = "goldenloop-escape"


def _escape_undecodable(exc: UnicodeError) -> tuple[str, int]:
    """Like surrogateescape, for any codec and any byte: each byte that cannot be decoded
    becomes one lone surrogate U+DC00+byte, which no valid text contains."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(chr(0xDC00 + b) for b in bad), exc.end


codecs.register_error(ERRORS, _escape_undecodable)


@dataclass(frozen=True)
class Encoding:
    name: str  # a Python codec name
    note: str | None = None  # what the import summary says about it, when worth saying
    errors_possible: bool = False  # some lines may not decode: check each record

    @property
    def is_utf8(self) -> bool:
        return self.name == "utf-8" and not self.errors_possible


UTF8 = Encoding("utf-8")


def check_name(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise ImportFileError(f"--encoding {name!r}: not a known text encoding") from exc


def choose(path: Path, head: bytes, utf8_valid: bool, requested: str | None) -> Encoding:
    """The encoding to read ``path`` with, from its first bytes and whether all of it is
    UTF-8 (both known from the loader's one read of the file)."""
    if requested:
        name = check_name(requested)
        if name == "utf-8" and utf8_valid:
            return UTF8
        return Encoding(name, f"read as {name} (--encoding)", True)
    for bom, name in _BOMS:
        if head.startswith(bom):
            if name == "utf-8-sig" and utf8_valid:
                return Encoding(name)
            return Encoding(name, f"read as {name.upper()} (byte-order mark)", True)
    if utf8_valid:
        return UTF8
    return _legacy_or_mixed(path)


def _legacy_or_mixed(path: Path) -> Encoding:
    data = path.read_bytes()
    if _UTF8_MULTIBYTE.search(data):
        return Encoding("utf-8", "mixes UTF-8 with other bytes: lines that are not UTF-8 are "
                        "quarantined (or pass --encoding)", True)
    try:
        data.decode("cp1252")
        name = "cp1252"
    except UnicodeDecodeError:
        name = "latin-1"
    return Encoding(name, f"not UTF-8: read as {name} (pass --encoding to choose another)")


def escaped(text: str) -> str:
    """A decoded line with its undecodable bytes written as ``\\xNN``."""
    return UNDECODED.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def bad_line_reason(enc: Encoding, text: str) -> str:
    m = UNDECODED.search(text)
    byte = ord(m.group()) - 0xDC00 if m else 0
    return (f"not valid {enc.name} text (byte 0x{byte:02x}); kept with undecodable bytes "
            f"escaped as \\xNN: pass --encoding if the file uses another encoding")
