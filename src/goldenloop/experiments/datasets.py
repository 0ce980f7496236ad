"""Test sets: a golden version (its expected outputs and provenance), or a JSONL/CSV file of
inputs with optional expected outputs imported as a versioned dataset.

A file row has ``input`` (text) or ``messages`` (chat messages), and optionally ``id``,
``expected`` (or ``expected_output``) and ``metadata``; other columns go into metadata. A
bad row (undecodable, not an object, no input, wrong types, a repeated id) is quarantined
with its row number, field and reason, and the others are kept. Importing the same content
again makes no new version. ``NAME@VERSION`` picks a version (the latest without one); a
name that is not an imported test set is looked up among golden datasets.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from goldenloop.access import roles
from goldenloop.errors import ExperimentError
from goldenloop.experiments.schema import ensure_tables
from goldenloop.store import Store

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_KNOWN = {"id", "input", "messages", "expected", "expected_output", "metadata"}


@dataclass(frozen=True)
class Dataset:
    dataset_id: int
    name: str
    version: int
    kind: str
    items: int
    content_hash: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass
class ImportResult:
    dataset: Dataset
    new_version: bool
    quarantined: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        made = "new version" if self.new_version else "same content as the latest version"
        return (f"{self.dataset.ref}: {self.dataset.items:,} items ({made}), "
                f"{len(self.quarantined):,} rows quarantined")


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise ExperimentError(f"test set name {name!r}: use letters, digits, '.', '_' or '-' "
                              "(at most 63)")
    return name


def parse_ref(ref: str) -> tuple[str, int | None]:
    name, _, version = ref.partition("@")
    if not version:
        return check_name(name), None
    if not version.isdigit():
        raise ExperimentError(f"test set {ref!r}: the version after '@' is a number")
    return check_name(name), int(version)


# -- reading files ----------------------------------------------------------------------------
def read_file(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Items and quarantined rows of a JSONL or CSV file."""
    if not path.is_file():
        raise ExperimentError(f"{path.name}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        records = _jsonl_records(path)
    elif suffix == ".csv":
        records = _csv_records(path)
    else:
        raise ExperimentError(f"{path.name}: a test set file is .jsonl or .csv")
    items, bad, seen = [], [], set()
    for row, rec, problem in records:
        if problem is None:
            item, problem = _item(rec, row)
        if problem is None and item["item_key"] in seen:
            problem = ("id", f"repeats id {item['item_key']!r} of an earlier row"
                       if not item["item_key"].startswith("h:") else
                       "repeats the input of an earlier row (give each row an id)")
        if problem is not None:
            fld, reason = problem
            raw = rec if isinstance(rec, str) else json.dumps(rec, ensure_ascii=False, default=str)
            bad.append({"file": path.name, "row_number": row, "field": fld, "reason": reason,
                        "raw": raw[:4000]})
            continue
        seen.add(item["item_key"])
        items.append(item)
    return items, bad


def _jsonl_records(path: Path):
    with path.open("rb") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield n, line.decode("utf-8", "backslashreplace"), \
                    ("<row>", f"not UTF-8 text (byte {exc.start})")
                continue
            try:
                yield n, json.loads(text), None
            except json.JSONDecodeError as exc:
                yield n, text, ("<row>", f"not JSON: {exc.msg} at column {exc.colno}")


def _csv_records(path: Path):
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ExperimentError(f"{path.name}: line {line}: not UTF-8 text (byte {exc.start}); "
                              "save the file as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or not ({"input", "messages"} & set(reader.fieldnames)):
        raise ExperimentError(f"{path.name}: the header needs an 'input' (or 'messages') column")
    for rec in reader:
        row = reader.line_num
        if None in rec:
            yield row, rec, ("<row>", "more cells than header columns")
            continue
        rec = {k: v for k, v in rec.items() if v not in (None, "")}
        if isinstance(rec.get("messages"), str):
            try:
                rec["messages"] = json.loads(rec["messages"])
            except json.JSONDecodeError:
                yield row, rec, ("messages", "not a JSON list of chat messages")
                continue
        if isinstance(rec.get("metadata"), str):
            try:
                rec["metadata"] = json.loads(rec["metadata"])
            except json.JSONDecodeError:
                yield row, rec, ("metadata", "not a JSON object")
                continue
        yield row, rec, None


def _item(rec: Any, row: int) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    if not isinstance(rec, dict):
        return None, ("<row>", "a row is a JSON object")
    messages = rec.get("messages")
    if messages is not None and not _is_messages(messages):
        return None, ("messages", "a list of {role, content} objects with text content")
    text = rec.get("input")
    if text is None and messages:
        text = next((m["content"] for m in reversed(messages) if m["role"] == "user"), None)
    if not isinstance(text, str) or not text.strip():
        return None, ("input", "missing or empty (give input text or messages)")
    expected = rec.get("expected", rec.get("expected_output"))
    if expected is not None and not isinstance(expected, str):
        expected = json.dumps(expected, ensure_ascii=False)  # structured answers: JSON text
    meta = rec.get("metadata") or {}
    if not isinstance(meta, dict):
        return None, ("metadata", "a JSON object")
    meta = {**meta, **{k: v for k, v in rec.items() if k not in _KNOWN}}
    key = rec.get("id")
    if key is not None and not isinstance(key, str | int):
        return None, ("id", "text or a whole number")
    key = str(key) if key is not None else "h:" + hashlib.sha256(text.encode()).hexdigest()[:16]
    return {"item_key": key, "input": text,
            "messages": json.dumps(messages, ensure_ascii=False) if messages else None,
            "expected": expected, "metadata": json.dumps(meta, ensure_ascii=False, default=str),
            "span_key": None}, None


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in value)


# -- storing ----------------------------------------------------------------------------------
def content_hash(items: list[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for it in items:
        h.update(json.dumps([it["item_key"], it["input"], it["messages"], it["expected"],
                             it["metadata"]], ensure_ascii=False).encode())
    return h.hexdigest()


def import_file(store: Store, name: str, path: Path, by: str | None = None) -> ImportResult:
    """Import ``path`` as a new version of test set ``name`` (none when the content is the
    latest version's); quarantined rows are stored and returned."""
    by = roles.guard(store, roles.Action.IMPORT, by) or "cli"
    ensure_tables(store)
    check_name(name)
    if store.scalar("SELECT count(*) FROM golden_datasets WHERE name = ?", [name]):
        raise ExperimentError(f"{name!r} is a golden dataset: give the imported test set "
                              "another name")
    items, bad = read_file(path)
    if not items:
        raise ExperimentError(f"{path.name}: no usable rows ({len(bad)} quarantined"
                              + (f"; first: row {bad[0]['row_number']}, {bad[0]['field']}: "
                                 f"{bad[0]['reason']}" if bad else "") + ")")
    chash = content_hash(items)
    now = datetime.now(UTC).replace(tzinfo=None)

    def write(cur) -> tuple[Dataset, bool]:
        if bad:
            cur.executemany("INSERT INTO experiment_quarantine VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [[name, b["file"], b["row_number"], b["field"], b["reason"],
                              b["raw"], now] for b in bad])
        last = cur.execute("""SELECT dataset_id, version, content_hash FROM experiment_datasets
                              WHERE name = ? ORDER BY version DESC LIMIT 1""", [name]).fetchall()
        if last and last[0][2] == chash:
            return Dataset(int(last[0][0]), name, int(last[0][1]), "file", len(items), chash), False
        version = (int(last[0][1]) if last else 0) + 1
        ds = _insert(cur, name, version, "file", path.name, chash, None, items, by, now)
        return ds, True

    ds, new = store.write(write)
    return ImportResult(ds, new, bad)


def _insert(cur, name: str, version: int, kind: str, origin: str, chash: str,
            golden_version_id: int | None, items: list[dict[str, Any]], by: str,
            now: datetime) -> Dataset:
    import pyarrow as pa

    did = int(cur.execute("SELECT nextval('experiment_dataset_seq')").fetchone()[0])
    cur.execute("INSERT INTO experiment_datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                [did, name, version, kind, origin, chash, golden_version_id, len(items), by, now])
    table = pa.Table.from_pylist([{**it, "position": n} for n, it in enumerate(items)],
                                 schema=pa.schema([
                                     ("item_key", pa.string()), ("input", pa.string()),
                                     ("messages", pa.string()), ("expected", pa.string()),
                                     ("metadata", pa.string()), ("span_key", pa.int64()),
                                     ("position", pa.int32())]))
    cur.register("_experiment_items", table)
    try:
        cur.execute(f"""INSERT INTO experiment_items SELECT {did}, item_key, position, input,
                            messages, expected, metadata, span_key FROM _experiment_items""")
    finally:
        cur.unregister("_experiment_items")
    return Dataset(did, name, version, kind, len(items), chash)


def from_golden(store: Store, name: str, version: int | None = None) -> Dataset:
    """The test set of a golden version (stored once, then reused)."""
    from goldenloop import golden

    ensure_tables(store)
    try:
        v = golden.get_version(store, name, version)
    except golden.DatasetNotFound as exc:
        raise ExperimentError(str(exc)) from None
    have = store.rows("""SELECT dataset_id, items, content_hash FROM experiment_datasets
                         WHERE golden_version_id = ?""", [v.version_id])
    if have:
        return Dataset(int(have[0][0]), name, v.version, "golden", int(have[0][1]), have[0][2])
    items = _golden_items(store, v)
    chash = content_hash(items)
    now = datetime.now(UTC).replace(tzinfo=None)
    return store.write(lambda cur: _insert(cur, name, v.version, "golden",
                                           f"golden {name} v{v.version}", chash, v.version_id,
                                           items, v.author, now))


def _golden_items(store: Store, v) -> list[dict[str, Any]]:
    from goldenloop import golden

    df = golden.rows(store, v)
    items = []
    for r in df.to_dict("records"):
        meta = {k: _plain(r.get(k)) for k in ("trace_id", "span_id", "session_id", "app",
                                              "model_version", "prompt_version", "label",
                                              "expected_source", "agreement_level")}
        items.append({"item_key": r["row_key"], "input": r.get("input") or "",
                      "messages": r.get("messages"), "expected": r.get("expected_output"),
                      "metadata": json.dumps(meta, ensure_ascii=False, default=str),
                      "span_key": None if _missing(r.get("span_key")) else int(r["span_key"])})
    return items


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _plain(value: Any) -> Any:
    return None if _missing(value) else value


def resolve(store: Store, ref: str) -> Dataset:
    """``NAME[@VERSION]``: an imported test set, else a golden dataset's version."""
    ensure_tables(store)
    name, version = parse_ref(ref)
    sql = """SELECT dataset_id, name, version, kind, items, content_hash
             FROM experiment_datasets WHERE name = ? AND kind = 'file'"""
    rows = store.rows(sql + (" AND version = ?" if version else "") + " ORDER BY version DESC",
                      [name, version] if version else [name])
    if rows:
        r = rows[0]
        return Dataset(int(r[0]), r[1], int(r[2]), r[3], int(r[4]), r[5])
    if store.scalar("SELECT count(*) FROM experiment_datasets WHERE name = ? AND kind = 'file'",
                    [name]):
        raise ExperimentError(f"test set {name!r} has no version {version}")
    if not store.scalar("SELECT count(*) FROM golden_datasets WHERE name = ?", [name]):
        raise ExperimentError(f"no test set or golden dataset named {name!r}: import a file "
                              "with `goldenloop experiment import`, or build a golden set")
    return from_golden(store, name, version)


def read_items(store: Store, ref: str) -> tuple[str, list[dict[str, Any]]]:
    """The items of ``NAME[@VERSION]`` without writing anything (a snapshot can be read):
    the resolved reference and the items (input, expected, item_key, span_key)."""
    from goldenloop import golden

    name, version = parse_ref(ref)
    has_tables = store.scalar("SELECT count(*) FROM information_schema.tables "
                              "WHERE table_name = 'experiment_datasets'")
    if has_tables and store.scalar("SELECT count(*) FROM experiment_datasets WHERE name = ? "
                                   "AND kind = 'file'", [name]):
        found = resolve(store, ref)
        return found.ref, items(store, found)
    try:
        v = golden.get_version(store, name, version)
    except golden.DatasetNotFound as exc:
        raise ExperimentError(f"no test set named {name!r}, and {exc}") from None
    return f"{name}@{v.version}", _golden_items(store, v)


def items(store: Store, dataset: Dataset) -> list[dict[str, Any]]:
    df = store.df("""SELECT item_key, input, messages, expected, metadata, span_key
                     FROM experiment_items WHERE dataset_id = ? ORDER BY position""",
                  [dataset.dataset_id])
    out = []
    for r in df.to_dict("records"):
        r["messages"] = json.loads(r["messages"]) if isinstance(r["messages"], str) else None
        r["metadata"] = json.loads(r["metadata"]) if isinstance(r["metadata"], str) else {}
        r["span_key"] = None if _missing(r["span_key"]) else int(r["span_key"])
        r["expected"] = None if _missing(r["expected"]) else r["expected"]
        out.append(r)
    return out


def list_datasets(store: Store):
    ensure_tables(store)
    return store.df("""SELECT name, version, kind, items, origin, content_hash[:12] AS hash,
                              created_at FROM experiment_datasets ORDER BY name, version""")


def quarantine(store: Store, name: str):
    ensure_tables(store)
    return store.df("""SELECT file, row_number, field, reason, raw, created_at
                       FROM experiment_quarantine WHERE dataset_name = ?
                       ORDER BY created_at, row_number""", [name])
