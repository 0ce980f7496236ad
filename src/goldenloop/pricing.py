"""Dated price table → cost of a span.

Prices are USD per million tokens, valid from a date until the next row for the same model.
The shipped table is ``goldenloop/data/prices.csv``; users add rows in a CSV of the same
columns named by ``GOLDENLOOP_PRICES``. Cached input tokens are billed at the cached price
when one is given, else at the input price. Unknown models get no cost: counted, not guessed.
"""

from __future__ import annotations

import csv
import os
from importlib import resources
from pathlib import Path

import pyarrow as pa

from goldenloop.errors import ImportFileError

COLUMNS = ("model", "valid_from", "input_per_mtok", "output_per_mtok", "cached_input_per_mtok")


def _read(path_or_text: Path | str, name: str) -> list[dict]:
    text = path_or_text.read_text() if isinstance(path_or_text, Path) else path_or_text
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    rows = list(csv.DictReader(lines))
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


def price_table(extra: str | os.PathLike | None = None) -> pa.Table:
    """One row per (model, valid_from) with ``valid_to``, ready for an equality + range join."""
    best: dict[tuple[str, str], dict] = {}
    for r in price_rows(extra):
        best[(r["model"].strip(), r["valid_from"].strip())] = r
    by_model: dict[str, list[dict]] = {}
    for (model, _), r in sorted(best.items()):
        by_model.setdefault(model, []).append(r)
    cols: dict[str, list] = {c: [] for c in (*COLUMNS, "valid_to")}
    for model, rows in by_model.items():
        for i, r in enumerate(rows):
            cols["model"].append(model)
            cols["valid_from"].append(r["valid_from"].strip())
            cols["valid_to"].append(rows[i + 1]["valid_from"].strip() if i + 1 < len(rows) else None)
            for c in COLUMNS[2:]:
                v = (r.get(c) or "").strip()
                cols[c].append(float(v) if v else None)
    return pa.table({
        "model": pa.array(cols["model"], pa.string()),
        "valid_from": pa.array(cols["valid_from"], pa.string()).cast(pa.timestamp("us")),
        "valid_to": pa.array(cols["valid_to"], pa.string()).cast(pa.timestamp("us")),
        **{c: pa.array(cols[c], pa.float64()) for c in COLUMNS[2:]},
    })


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
