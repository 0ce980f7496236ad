"""Dated price table → cost of a span.

Prices are USD per million tokens, valid from a date until the next row for the same model.
The shipped table is ``goldenloop/data/prices.csv``; users add rows in a CSV of the same
columns named by ``GOLDENLOOP_PRICES``. Cached input tokens are billed at the cached price
when one is given, else at the input price. Unknown models get no cost: counted, not guessed.
"""

from __future__ import annotations

import csv
import os
from datetime import datetime
from importlib import resources
from pathlib import Path

from goldenloop.errors import ImportFileError

COLUMNS = ("model", "valid_from", "input_per_mtok", "output_per_mtok", "cached_input_per_mtok")


def _read(path_or_text: Path | str, name: str) -> list[dict]:
    text = path_or_text.read_text() if isinstance(path_or_text, Path) else path_or_text
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    rows = list(csv.DictReader(lines))
    for r in rows:
        r["_file"] = name  # named in the message about a bad value
    missing = [c for c in COLUMNS[:4] if rows and c not in rows[0]]
    if missing:
        raise ImportFileError(f"{name}: price table lacks columns {', '.join(missing)}")
    return rows


def price_rows(extra: str | os.PathLike | None = None) -> list[dict]:
    """Shipped prices, then the user's (``extra`` or ``GOLDENLOOP_PRICES``), later rows winning."""
    shipped = resources.files("goldenloop").joinpath("data/prices.csv").read_text()
    rows = _read(shipped, "prices.csv")
    user = extra or os.environ.get("GOLDENLOOP_PRICES")
    if user:
        rows += _read(Path(user), str(user))
    return rows


PriceRecord = tuple[str, datetime, datetime | None, float | None, float | None, float | None]


def price_records(extra: str | os.PathLike | None = None) -> list[PriceRecord]:
    """One ``(model, valid_from, valid_to, input, output, cached_input)`` per (model,
    valid_from), ready for an equality + range join. Plain Python values: an import
    registers them with DuckDB directly (building Arrow arrays from Python values loads
    pandas, a quarter of a second of every import's start-up)."""
    best: dict[tuple[str, str], dict] = {}
    for r in price_rows(extra):
        best[(r["model"].strip(), r["valid_from"].strip())] = r
    by_model: dict[str, list[tuple[str, dict]]] = {}
    for (model, start), r in sorted(best.items()):
        by_model.setdefault(model, []).append((start, r))
    out: list[PriceRecord] = []
    for model, rows in by_model.items():
        for i, (start, r) in enumerate(rows):
            where = f"{r['_file']}: {model}"
            until = _date(rows[i + 1][0], where) if i + 1 < len(rows) else None
            nums = [(r.get(c) or "").strip() for c in COLUMNS[2:]]
            out.append((model, _date(start, where), until,
                        *(_number(v, where, c) for v, c in zip(nums, COLUMNS[2:], strict=True))))
    return out


def _date(text: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ImportFileError(f"{where}: valid_from {text!r} is not a date (YYYY-MM-DD)") from None


def _number(text: str, where: str, column: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        raise ImportFileError(f"{where}: {column} {text!r} is not a number") from None


def cost_sql(p: str, s: str) -> str:
    """Cost of span alias ``s`` under price alias ``p`` (NULL when the price is unknown)."""
    cached = f"coalesce({s}.cached_input_tokens, 0)"
    cached_price = f"coalesce({p}.cached_input_per_mtok, {p}.input_per_mtok)"
    inp, out = f"coalesce({s}.input_tokens, 0)", f"coalesce({s}.output_tokens, 0)"
    return (
        f"CASE WHEN {s}.input_tokens IS NULL AND {s}.output_tokens IS NULL THEN NULL ELSE "
        f"(({inp} - {cached}) * {p}.input_per_mtok + {cached} * {cached_price}"
        f" + {out} * {p}.output_per_mtok) / 1e6 END"
    )
