"""Writing a golden version out: JSONL, CSV, Parquet, the OpenAI fine-tuning and evals
formats and a Hugging Face ``datasets`` folder, with a dataset card, into
``<chosen folder>/<dataset>/v<version>/``.

Nothing is written outside the chosen folder: the dataset name is a plain name, and every
path is resolved (symbolic links included) and checked to lie inside it. Each file is
written under a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from goldenloop.access import roles
from goldenloop.golden import card, openai_format
from goldenloop.golden.curation import SPLITS
from goldenloop.golden.filters import GoldenError, check_name
from goldenloop.golden.openai_format import RowProblem
from goldenloop.golden.versions import Version, get_version, rows_sql
from goldenloop.store import Store, audit

FILES = {
    "jsonl": "golden.jsonl",
    "csv": "golden.csv",
    "parquet": "golden.parquet",
    "openai_chat": "openai_chat.jsonl",
    "openai_evals": "openai_evals.jsonl",
    "hf": "hf",
}
FORMATS = tuple(FILES)
_NOT_TEXT = {"span_key", "label_number", "n_reviewers", "human_agreement", "correction_id",
             "inclusion_prob", "queue_id", "correct", "judge_agrees", "start_time"}
_LISTS = {"tags", "reviewers", "judge_versions"}
_BATCH = 20_000


class ExportPathError(GoldenError):
    """An export would write outside the chosen folder."""


@dataclass(frozen=True)
class ExportResult:
    version: Version
    folder: Path
    files: dict[str, Path]
    card: Path
    written: dict[str, int]                      # rows per format
    problems: list[RowProblem] = field(default_factory=list)


def export_folder(out: Path, name: str, version: int) -> Path:
    """``out/<name>/v<version>``, refused when it would resolve outside ``out``."""
    root = Path(out).resolve()
    folder = (root / check_name(name) / f"v{int(version)}").resolve()
    if not folder.is_relative_to(root):
        raise ExportPathError(f"export folder {folder} is outside the chosen folder {root}")
    return folder


def _inside(folder: Path, root: Path, name: str) -> Path:
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_relative_to(root):
        raise ExportPathError(f"{name}: would be written outside {root}")
    return path


def _sql_literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _copy(store: Store, select: str, dest: Path, options: str) -> int:
    tmp = dest.with_name(f".{dest.name}.tmp")
    cur = store.cursor()
    cur.execute(f"COPY ({select}) TO {_sql_literal(tmp)} ({options})")
    n = int(cur.fetchall()[0][0])
    os.replace(tmp, dest)
    return n


def _csv_select(version_id: int) -> str:
    """Every column as text or number, text cells that a spreadsheet would run neutralised."""
    from goldenloop.golden.sql import ROW_COLUMNS

    cols = []
    for c in ("row_hash", *ROW_COLUMNS, "split"):
        if c in _NOT_TEXT:
            cols.append(c)
            continue
        text = f"CAST(to_json({c}) AS VARCHAR)" if c in _LISTS else f"CAST({c} AS VARCHAR)"
        cols.append(f"CASE WHEN regexp_matches({text}, '^[=+\\-@\\t\\r]') THEN '''' || {text} "
                    f"ELSE {text} END AS {c}")
    return f"SELECT {', '.join(cols)} FROM ({rows_sql(version_id)})"


def _row_dicts(store: Store, version_id: int) -> Iterator[dict]:
    reader = store.cursor().sql(rows_sql(version_id)).to_arrow_reader(_BATCH)
    for batch in reader:
        yield from batch.to_pylist()


def _write_lines(dest: Path, records: Iterable[dict]) -> int:
    tmp = dest.with_name(f".{dest.name}.tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as out:
        for r in records:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, dest)
    return n


def has_split(store: Store, v: Version) -> bool:
    return bool(store.rows("SELECT 1 FROM golden_version_splits WHERE version_id = ? LIMIT 1",
                           [v.version_id]))


def split_file(dest: Path, part: str) -> Path:
    """The file of one part of the split: ``openai_chat.jsonl`` -> ``openai_chat.train.jsonl``."""
    return dest.with_name(f"{dest.stem}.{part}{dest.suffix}")


def _openai(store: Store, v: Version, fmt: str, dest: Path, problems: list[RowProblem]) -> int:
    """One file; with a split, one file per part instead (OpenAI takes the training and
    validation files apart), named by ``split_file``."""
    def valid(part: str | None) -> Iterator[dict]:
        for row in _row_dicts(store, v.version_id):
            if part is not None and row.get("split") != part:
                continue
            example, problem = openai_format.record(fmt, row)
            if problem:
                problems.append(problem)
            else:
                yield example

    if not has_split(store, v):
        return _write_lines(dest, valid(None))
    return sum(_write_lines(split_file(dest, part), valid(part)) for part in SPLITS)


def _hf(store: Store, v: Version, dest: Path) -> int:
    import datasets  # slow to import: only when this format is asked for

    table = store.cursor().sql(rows_sql(v.version_id)).to_arrow_table()
    ds = datasets.Dataset(table, info=datasets.DatasetInfo(
        description=f"{v.dataset} version {v.version} ({v.content_hash})"))
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # no progress bars in the server's log or the CLI
    try:
        ds.save_to_disk(str(tmp))
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return len(ds)


def _write(store: Store, v: Version, fmt: str, dest: Path, problems: list[RowProblem]) -> int:
    if fmt == "jsonl":
        return _copy(store, rows_sql(v.version_id), dest, "FORMAT json")
    if fmt == "parquet":
        return _copy(store, rows_sql(v.version_id), dest, "FORMAT parquet, COMPRESSION zstd")
    if fmt == "csv":
        return _copy(store, _csv_select(v.version_id), dest, "FORMAT csv, HEADER true")
    if fmt in openai_format.BUILDERS:
        return _openai(store, v, fmt, dest, problems)
    return _hf(store, v, dest)


def zip_folder(folder: Path) -> bytes:
    """An export folder as one zip file (the page's download), paths relative to it."""
    buf = io.BytesIO()
    folder = Path(folder)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink() and not path.name.startswith("."):
                z.write(path, f"{folder.parent.name}-{folder.name}/{path.relative_to(folder)}")
    return buf.getvalue()


def export(store: Store, name: str, out: Path, author: str, *, version: int | None = None,
           formats: Iterable[str] = FORMATS) -> ExportResult:
    """Write version ``version`` (the latest when None) of dataset ``name`` in ``formats``
    with its card into ``out/<name>/v<version>/``. Leads only; recorded in the audit log."""
    formats = list(dict.fromkeys(formats))
    unknown = set(formats) - set(FILES)
    if unknown or not formats:
        raise GoldenError(f"formats: choose among {', '.join(FORMATS)}")
    who = roles.require(store, author, roles.Action.EXPORT)
    v = get_version(store, name, version)
    root = Path(out).resolve()
    folder = export_folder(root, v.dataset, v.version)
    folder.mkdir(parents=True, exist_ok=True)
    if folder.resolve() != folder:
        raise ExportPathError(f"{folder}: a symbolic link leads outside the chosen folder")
    files, written, problems = {}, {}, []
    for fmt in formats:
        dest = _inside(folder, root, FILES[fmt])
        written[fmt] = _write(store, v, fmt, dest, problems)
        files[fmt] = dest
    if problems:
        _write_lines(_inside(folder, root, "problems.jsonl"),
                     ({"format": p.format, "row_key": p.row_key, "field": p.field,
                       "reason": p.reason} for p in problems))
    names = {k: FILES[k] for k in files}
    if has_split(store, v):  # the OpenAI formats are written one file per part
        names |= {k: split_file(Path(FILES[k]), "{" + ",".join(SPLITS) + "}").name
                  for k in files if k in openai_format.BUILDERS}
    text = card.render(v, names, written, problems)
    card_path = card.write(folder, text)
    if not store.read_only:
        store.write(lambda cur: audit.record(
            cur, who, "golden.export", f"golden:{v.dataset}:v{v.version}",
            {"folder": str(folder), "formats": formats, "written": written,
             "problems": len(problems)}))
    return ExportResult(v, folder, files, card_path, written, problems)
