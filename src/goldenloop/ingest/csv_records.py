"""CSV records with the number of the line each starts on, and resynchronisation after a broken
quote.

A quoted field may hold line breaks, so one stray quote (``a,"broken,6``) makes the parser read
the lines after it as part of that field: to the end of the file, or to the next quote, where
the record comes out with the wrong width, a misplaced quote, or (the silent case) the right
width with other rows inside one cell. Here a record that spans several lines and is bad, or
whose lines after the first read cleanly as whole rows of their own, costs only its first line:
that line is quarantined (naming the column whose quote never closes) and the lines after it
are read again as rows. Every line ends up in a row, imported or quarantined; none is folded
silently into another row.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import deque
from collections.abc import Iterator
from typing import TextIO

from goldenloop.errors import ImportFileError
from goldenloop.ingest.source import BadRow

csv.field_size_limit(sys.maxsize)

Record = tuple[int, list[str]]  # first line number, fields


class _Lines:
    """The file's physical lines for ``csv.reader``, numbered, with the ones a record took
    remembered so they can be handed back and read again."""

    def __init__(self, fh: TextIO) -> None:
        self._fh = fh
        self._again: deque[tuple[int, str]] = deque()
        self._next_no = 1
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._again:
            item = self._again.popleft()
        else:
            line = self._fh.readline()
            if not line:
                raise StopIteration
            item = (self._next_no, line)
            self._next_no += 1
        self.taken.append(item)
        return item[1]

    def read_again(self, lines: list[tuple[int, str]]) -> None:
        self._again.extendleft(reversed(lines))


def header(lines: _Lines, reader, path: str) -> list[str] | None:
    lines.taken = []
    try:
        return next(reader, None)
    except csv.Error as exc:
        raise ImportFileError(f"{path}: line 1: the header row cannot be read: {exc} "
                              "(a quote in it never closes?)") from exc


def records(fh: TextIO, delimiter: str, path: str) -> tuple[list[str] | None, Iterator]:
    """The header and an iterator of ``(line, fields)`` records and ``BadRow``s."""
    lines = _Lines(fh)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    head = header(lines, reader, path)
    if head is None:
        return None, iter(())
    return head, _body(lines, reader, len(head), delimiter, head)


def _body(lines: _Lines, reader, width: int, delimiter: str,
          names: list[str]) -> Iterator[Record | BadRow]:
    while True:
        lines.taken = []
        try:
            rec = next(reader)
            error = None
        except StopIteration:
            return
        except csv.Error as exc:
            rec, error = None, str(exc)
        taken = lines.taken
        if len(taken) > 1 and (error or len(rec) != width or _rows_inside(taken, width, delimiter)):
            yield _broken_quote(taken, delimiter, names, error)
            lines.read_again(taken[1:])
        elif error:
            yield BadRow(taken[0][0], "<row>", f"cannot be read as CSV: {error}",
                         _text(taken))
        elif len(rec) != width:
            if rec:  # blank lines are not rows
                yield BadRow(taken[0][0], "<row>", f"expected {width} fields, found {len(rec)}",
                             _text(taken))
        else:
            yield taken[0][0], rec


def _rows_inside(taken: list[tuple[int, str]], width: int, delimiter: str) -> bool:
    """Whether the lines of a multi-line record after its first read, on their own, as one or
    more whole rows: then the quote that joined them is far likelier a stray one than a cell
    holding line breaks (whose later lines seldom split into exactly the right columns). With
    one column every line would: a cell's line breaks are then taken as written."""
    if width < 2:
        return False
    rest = "".join(line for _, line in taken[1:])
    try:
        recs = list(csv.reader(io.StringIO(rest, newline=""), delimiter=delimiter, strict=True))
    except csv.Error:
        return False
    recs = [r for r in recs if r]
    return bool(recs) and all(len(r) == width for r in recs)


def _broken_quote(taken: list[tuple[int, str]], delimiter: str, names: list[str],
                  error: str | None) -> BadRow:
    """The first line of a record a stray quote ran on from, named by the column it opened."""
    no, line = taken[0]
    # Read alone, the line ends inside the quoted field: the last field is the one it opened.
    alone = next(csv.reader([line], delimiter=delimiter), [])
    i = max(len(alone) - 1, 0)
    field = names[i] if i < len(names) else "<row>"
    joined = taken[-1][0]
    how = f"({error}) " if error else ""
    return BadRow(no, field, f"a quote opened in this field does not close on its line {how}"
                  f"and would join lines {no + 1}–{joined} to it; this line is quarantined and "
                  "the lines after it are read as rows of their own", line.rstrip("\r\n"))


def _text(taken: list[tuple[int, str]]) -> str:
    return "".join(line for _, line in taken).rstrip("\r\n")
