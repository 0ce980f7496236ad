"""The signals table's SQL on ClickHouse: which LLM spans need scoring or moderation, their
texts, and writing their signals (the DuckDB text is ``store.signals``).

ClickHouse does not update rows in place: a rescored span gets a new row with a newer
``computed_at``, which the replacing engine keeps (readers read through ``FINAL``). The new
row carries over the old one's moderation columns and versions, as DuckDB's update in place
keeps them; moderation verdicts likewise come as the whole row again.
"""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa

from goldenloop.store.signals import MODERATION_COLUMNS, OFFLINE_COLUMNS


def _fresh(versions: dict[str, str]) -> tuple[str, dict]:
    """SQL true when a signals row has every scorer at its running version."""
    terms, params = [], {}
    for i, (name, version) in enumerate(sorted(versions.items())):
        params[f"n{i}"], params[f"v{i}"] = name, version
        terms.append(f"JSONExtractString(ifNull(scorer_versions, '{{}}'), %(n{i})s) = %(v{i})s")
    return " AND ".join(terms) or "1", params


def pending_keys(spans, versions: dict[str, str], rescore: bool = False) -> pa.Array:
    """Keys of LLM spans with no current signals row (all LLM spans with ``rescore``)."""
    fresh, params = _fresh(versions)
    skip = "" if rescore else \
        f"AND span_key NOT IN (SELECT span_key FROM signals FINAL WHERE {fresh})"
    table = spans.arrow(f"SELECT DISTINCT span_key FROM spans FINAL WHERE kind = 'llm' {skip} "
                        "ORDER BY span_key", params)
    return table.column(0).combine_chunks().cast(pa.int64())


def has_pending(spans, versions: dict[str, str]) -> bool:
    fresh, params = _fresh(versions)
    table = spans.arrow("SELECT count() > 0 FROM (SELECT span_key FROM spans FINAL "
                        "WHERE kind = 'llm' AND span_key NOT IN "
                        f"(SELECT span_key FROM signals FINAL WHERE {fresh}) LIMIT 1)", params)
    return bool(table.column(0)[0].as_py())


def texts_for(spans, keys: pa.Array) -> pa.Table:
    """(span_key, last_user_message, output) of the spans with ``keys``, by key."""
    return spans.arrow("SELECT span_key, last_user_message, output FROM spans FINAL "
                       "WHERE span_key IN %(keys)s ORDER BY span_key",
                       {"keys": keys.to_pylist() or [-1]})


def write_offline(spans, table: pa.Table, versions: dict[str, str]) -> tuple[int, int]:
    """Store offline signals for ``table`` (span_key + OFFLINE_COLUMNS); (inserted, updated)."""
    if table.num_rows == 0:
        return 0, 0
    keys = table["span_key"].to_pylist()
    kept = [c for c, _ in MODERATION_COLUMNS]
    old = spans.arrow(f"SELECT span_key, {', '.join(kept)}, scorer_versions FROM signals FINAL "
                      "WHERE span_key IN %(keys)s", {"keys": keys}).to_pylist()
    before = {r["span_key"]: r for r in old}
    rows: dict[str, list] = {c: [] for c in kept}
    stamps = []
    for k in keys:
        prior = before.get(k, {})
        for c in kept:
            rows[c].append(prior.get(c))
        merged = json.loads(prior.get("scorer_versions") or "{}") | versions
        stamps.append(json.dumps(merged, sort_keys=True))
    out = table.select(["span_key"] + [c for c, _ in OFFLINE_COLUMNS])
    for c, duck_type in MODERATION_COLUMNS:
        typ = {"BOOLEAN": pa.bool_(), "DOUBLE": pa.float64()}.get(duck_type, pa.string())
        out = out.append_column(c, pa.array(rows[c], typ))
    out = out.append_column("scorer_versions", pa.array(stamps, pa.string()))
    token = hashlib.sha256(json.dumps([keys, stamps]).encode()).hexdigest()[:32]
    spans.insert_batches("signals", [out], token=f"score:{token}")
    return len(keys) - len(before), len(before)


def moderation_pending(spans, limit: int) -> pa.Table:
    """Scored LLM spans with some text never moderated, newest first (``store.signals``)."""
    return spans.arrow(
        """SELECT span_key, last_user_message, output FROM spans FINAL
           WHERE kind = 'llm' AND (last_user_message IS NOT NULL OR output IS NOT NULL)
             AND span_key IN (SELECT span_key FROM signals FINAL WHERE
                              JSONExtractString(ifNull(scorer_versions, '{}'), 'moderation') = '')
           ORDER BY start_time DESC, span_key DESC LIMIT %(limit)s""", {"limit": int(limit)})


def write_moderation(spans, table: pa.Table, version: str) -> int:
    """Store moderation results for ``table`` (span_key + MODERATION_COLUMNS): each span's
    signals row again, with them and the moderation version; the rows written."""
    if table.num_rows == 0:
        return 0
    keys = table["span_key"].to_pylist()
    old = spans.arrow("SELECT * EXCEPT computed_at FROM signals FINAL WHERE span_key IN %(k)s "
                      "ORDER BY span_key", {"k": keys})
    if old.num_rows == 0:
        return 0
    given = {k: i for i, k in enumerate(keys)}
    at = [given[k] for k in old["span_key"].to_pylist()]
    out = old
    for c, _ in MODERATION_COLUMNS:
        i = out.schema.get_field_index(c)
        out = out.set_column(i, c, table[c].take(pa.array(at)).cast(out.schema.field(c).type))
    stamps = [json.dumps(json.loads(v or "{}") | {"moderation": version}, sort_keys=True)
              for v in old["scorer_versions"].to_pylist()]
    i = out.schema.get_field_index("scorer_versions")
    out = out.set_column(i, "scorer_versions", pa.array(stamps, pa.string()))
    token = hashlib.sha256(json.dumps([keys, version]).encode()).hexdigest()[:32]
    spans.insert_batches("signals", [out], token=f"moderation:{token}")
    return out.num_rows
