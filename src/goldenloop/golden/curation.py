"""Curation of golden rows for retraining: conditions on other criteria of the same target,
the evidence behind a row (agreeing reviewers, their accuracy on gold items), rows a curator
excluded with a reason, de-duplication of inputs, and a train / validation / test split by
session.

The steps run on the temporary candidate table that ``build`` materialises (before any text
is stored): each marks the rows it leaves out with a ``reason``, so the preview, the counts
and the card say why a row is missing. They are apart from the span selection
(``GoldenFilter.spans``), which decides which graded answers are candidates at all.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from goldenloop.errors import FilterError
from goldenloop.store.shared_sql import HUMAN

SPLITS = ("train", "validation", "test")
DUPLICATE = "duplicate input"
EXCLUDED = "excluded by a curator"


@dataclass(frozen=True)
class Condition:
    """A condition on another criterion of the same target, decided like the main verdict:
    an adjudication grade settles it, else more than half of the reviewers' latest grades
    must meet it. ``labels``: any of them; ``without``: none of them (multi-label grades
    too); ``not_flagged``: no reviewer flagged their grade on this criterion. A target not
    graded on the criterion fails a condition on values, and passes ``not_flagged`` alone."""

    criterion: str
    min_value: float | None = None
    max_value: float | None = None
    labels: tuple[str, ...] = ()
    without: tuple[str, ...] = ()
    not_flagged: bool = False

    def __post_init__(self) -> None:
        for name in ("labels", "without"):
            v = getattr(self, name)
            object.__setattr__(self, name, (v,) if isinstance(v, str) else tuple(v or ()))
        if not (self.criterion or "").strip():
            raise FilterError("condition: name a criterion")
        if (self.min_value is None and self.max_value is None and not self.labels
                and not self.without and not self.not_flagged):
            raise FilterError(f"condition on {self.criterion!r}: says nothing to check")
        if (self.min_value is not None and self.max_value is not None
                and self.min_value > self.max_value):
            raise FilterError(f"condition on {self.criterion!r}: minimum above maximum")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def describe(self) -> str:
        parts = []
        if self.min_value is not None:
            parts.append(f">= {self.min_value:g}")
        if self.max_value is not None:
            parts.append(f"<= {self.max_value:g}")
        if self.labels:
            parts.append("one of " + " | ".join(self.labels))
        if self.without:
            parts.append("without " + " | ".join(self.without))
        if self.not_flagged:
            parts.append("not flagged")
        return f"{self.criterion}: {', '.join(parts)}"

    @classmethod
    def parse(cls, text: str) -> Condition:
        """``correctness>=4``, ``correctness<=2``, ``correctness=5``, ``tone=on-brand|concise``
        (any of), ``tone!=too casual`` (none of), ``safety:not-flagged``."""
        raw = (text or "").strip()
        if raw.endswith(":not-flagged"):
            return cls(raw[: -len(":not-flagged")].strip(), not_flagged=True)
        m = re.match(r"^([^<>=!]+?)\s*(>=|<=|!=|=)\s*(.+)$", raw)
        if not m:
            raise FilterError(f"condition {text!r}: write CRITERION>=N, CRITERION<=N, "
                              "CRITERION=VALUE[|VALUE], CRITERION!=LABEL[|LABEL] or "
                              "CRITERION:not-flagged")
        name, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
        values = tuple(v.strip() for v in value.split("|") if v.strip())
        number = _number(value)
        if op in (">=", "<="):
            if number is None:
                raise FilterError(f"condition {text!r}: {op} needs a number")
            return cls(name, **{"min_value" if op == ">=" else "max_value": number})
        if op == "!=":
            return cls(name, without=values)
        if number is not None:
            return cls(name, min_value=number, max_value=number)
        return cls(name, labels=values)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def check_split(split: tuple[float, ...]) -> tuple[float, ...]:
    """Train, validation and test shares: three numbers >= 0 that add up to 1 (or 100)."""
    if not split:
        return ()
    if len(split) != 3 or any(s < 0 for s in split) or sum(split) <= 0:
        raise FilterError("split: three shares (train, validation, test), none negative")
    total = sum(split)
    if abs(total - 1) > 1e-6 and abs(total - 100) > 1e-6:
        raise FilterError(f"split: the shares add up to {total:g}, not 1 (or 100)")
    return tuple(float(s) / total for s in split)


# A grade meets a condition: the parameters are the condition's fields.
_MEETS = """(($min IS NULL OR g.value_number >= $min) AND ($max IS NULL OR g.value_number <= $max)
    AND (len($labels) = 0 OR coalesce(list_contains($labels, g.value_label), false)
         OR list_has_any($labels, coalesce(g.value_labels, [])))
    AND NOT (coalesce(list_contains($without, g.value_label), false)
             OR list_has_any($without, coalesce(g.value_labels, []))))"""


def _condition(cur, cand: str, c: Condition) -> None:
    """Mark kept rows whose target does not meet ``c``."""
    has_value = (c.min_value is not None or c.max_value is not None or bool(c.labels)
                 or bool(c.without))
    p = {"crit": c.criterion, "min": c.min_value, "max": c.max_value, "labels": list(c.labels),
         "without": list(c.without), "has_value": has_value, "not_flagged": c.not_flagged,
         "graded": f"{c.criterion}: not graded", "unmet": f"{c.criterion}: condition not met"}
    cur.execute(
        f"""WITH kept AS (SELECT row_key FROM {cand} WHERE reason IS NULL),
            g AS (
                SELECT g.target_type || ':' || g.target_id AS tk, g.*,
                       coalesce(g.is_adjudication, false) AS adj
                FROM live_grades g
                WHERE g.criterion = $crit AND {HUMAN}
                  AND g.target_type || ':' || g.target_id IN (SELECT row_key FROM kept)
                QUALIFY row_number() OVER (PARTITION BY tk, g.author_id, adj
                                           ORDER BY g.created_at DESC, g.grade_id DESC) = 1),
            voted AS (
                SELECT tk, adj, coalesce(flagged, false) AS flag,
                       CASE WHEN coalesce(not_applicable, false)
                              OR (value_number IS NULL AND value_label IS NULL
                                  AND len(coalesce(value_labels, [])) = 0) THEN NULL
                            ELSE {_MEETS.replace('$min', 'CAST($min AS DOUBLE)')
                                        .replace('$max', 'CAST($max AS DOUBLE)')
                                        .replace('$labels', 'CAST($labels AS VARCHAR[])')
                                        .replace('$without', 'CAST($without AS VARCHAR[])')}
                       END AS ok
                FROM g),
            per AS (   -- an adjudication settles it; else the reviewers' majority
                SELECT tk, count(*) AS grades,
                       coalesce(bool_or(ok) FILTER (WHERE adj),
                                count(*) FILTER (WHERE ok AND NOT adj) * 2
                                > count(ok) FILTER (WHERE NOT adj)) AS value_ok,
                       coalesce(NOT bool_or(flag) FILTER (WHERE adj),
                                NOT bool_or(flag) FILTER (WHERE NOT adj)) AS flag_ok
                FROM voted GROUP BY tk)
            UPDATE {cand} AS c
            SET reason = CASE WHEN per.tk IS NULL THEN $graded ELSE $unmet END
            FROM kept LEFT JOIN per ON per.tk = kept.row_key
            WHERE c.row_key = kept.row_key AND c.reason IS NULL
              AND ((per.tk IS NULL AND $has_value)
                   OR ($has_value AND NOT coalesce(per.value_ok, false))
                   OR ($not_flagged AND NOT coalesce(per.flag_ok, true)))""", p)


_GOLD_ACCURACY = """
    SELECT r.author_id AS reviewer, count(*) AS gold_grades,
           avg(CASE WHEN coalesce(r.not_applicable, false) = coalesce(k.not_applicable, false)
                     AND r.value_label IS NOT DISTINCT FROM k.value_label
                     AND r.value_number IS NOT DISTINCT FROM k.value_number
                     AND list_sort(r.value_labels) IS NOT DISTINCT FROM list_sort(k.value_labels)
                    THEN 1.0 ELSE 0.0 END) AS accuracy
    FROM live_grades r
    JOIN queue_items i ON i.queue_item_id = r.queue_item_id
    JOIN live_grades k ON k.queue_item_id = r.queue_item_id AND k.criterion = r.criterion
                      AND coalesce(k.is_gold, false)
    WHERE i.is_gold AND r.source = 'human' AND NOT coalesce(r.is_gold, false)
      AND r.value_text IS NULL
    GROUP BY r.author_id"""


def gold_accuracy(store) -> pd.DataFrame:
    """Per reviewer: gold grades and the share matching the known answer, over every
    criterion and queue (the evidence filter's figure)."""
    return store.df(_GOLD_ACCURACY + " ORDER BY reviewer")


def _evidence(cur, cand: str, min_agreeing: int, min_accuracy: float | None) -> None:
    """Mark kept rows with fewer than ``min_agreeing`` reviewers holding the row's verdict
    (counting only reviewers whose accuracy on gold items is at least ``min_accuracy``)."""
    need = max(int(min_agreeing), 1 if min_accuracy is not None else 0)
    if need == 0:
        return
    reason = ("too few agreeing reviewers" if min_accuracy is None
              else "too few agreeing reviewers accurate on gold items")
    cur.execute(
        f"""WITH acc AS ({_GOLD_ACCURACY}),
            who AS (SELECT row_key, unnest(agreeing_reviewers) AS reviewer FROM {cand}
                    WHERE reason IS NULL),
            n AS (SELECT w.row_key, count(*) AS n FROM who w LEFT JOIN acc USING (reviewer)
                  WHERE $acc IS NULL OR acc.accuracy >= $acc GROUP BY w.row_key)
            UPDATE {cand} AS c SET reason = $reason
            WHERE c.reason IS NULL
              AND coalesce((SELECT n.n FROM n WHERE n.row_key = c.row_key), 0) < $need""",
        {"acc": None if min_accuracy is None else float(min_accuracy), "need": need,
         "reason": reason})


def _exclusions(cur, cand: str, dataset: str) -> list[dict[str, Any]]:
    """Mark the rows a curator excluded from ``dataset`` (and not restored since); returns
    them with their reasons, for the version's provenance."""
    found = cur.execute(
        f"""SELECT e.row_key, e.reason, e.author, e.created_at FROM ({current_sql()}) e
            WHERE e.dataset = ? AND e.row_key IN (SELECT row_key FROM {cand})
            ORDER BY e.row_key""", [dataset]).fetchall()
    if found:
        cur.execute(f"""UPDATE {cand} SET reason = ? WHERE row_key IN
                        (SELECT row_key FROM ({current_sql()}) WHERE dataset = ?)""",
                    [EXCLUDED, dataset])
    return [{"row_key": k, "reason": r, "by": a, "at": t.isoformat(timespec="seconds")}
            for k, r, a, t in found]


def current_sql() -> str:
    """The exclusions in force: each row's latest exclude or restore, when it excludes."""
    return """SELECT * FROM golden_exclusions
              QUALIFY row_number() OVER (PARTITION BY dataset, row_key
                                         ORDER BY created_at DESC, seq DESC) = 1
                  AND action = 'exclude'"""


# Text where the regular expression \s+ -> " " changes something (RE2's \s is tab, line
# feed, form feed, carriage return and space): two spaces in a row, or one of the others.
# Other text is left as it is by the replacement, which costs several times this test.
_SPACES = " OR ".join(["contains(t, '  ')"] + [f"contains(t, chr({c}))" for c in (9, 10, 12, 13)])


def _dedupe(cur, cand: str) -> int:
    """Of kept rows with the same normalised input (Unicode NFC, lower case, white space
    collapsed), keep the best-supported one: adjudicated, then most agreeing reviewers, most
    reviewers, judge agreeing, a correction, the newest. Returns how many were merged."""
    cur.execute(
        f"""WITH t AS (
                SELECT c.row_key, c.agreement_level, c.agreeing, c.n_reviewers, c.judge_agrees,
                       c.expected_source, c.start_time,
                       trim(nfc_normalize(coalesce(c.cmp_input, c.item_input,
                                                   s.last_user_message, ''))) AS t
                FROM {cand} c LEFT JOIN spans s ON s.span_key = c.span_key
                WHERE c.reason IS NULL),
            k AS (   -- the regular expression only where there is white space to collapse
                SELECT *, lower(CASE WHEN {_SPACES} THEN regexp_replace(t, '\\s+', ' ', 'g')
                                     ELSE t END) AS norm
                FROM t),
            ranked AS (
                SELECT row_key, norm, row_number() OVER (
                    PARTITION BY norm
                    ORDER BY (agreement_level = 'adjudicated') DESC, agreeing DESC NULLS LAST,
                             n_reviewers DESC NULLS LAST, judge_agrees DESC NULLS LAST,
                             (expected_source = 'correction') DESC, start_time DESC NULLS LAST,
                             row_key) AS rank
                FROM k WHERE norm <> '')
            UPDATE {cand} SET reason = '{DUPLICATE}'
            WHERE row_key IN (SELECT row_key FROM ranked WHERE rank > 1)""")
    return int(cur.fetchall()[0][0])


def apply(cur, cand: str, f, dataset: str | None = None) -> dict[str, Any]:
    """Run the curation steps of filter ``f`` on candidate table ``cand``; returns what the
    version's counts keep of them (exclusions applied, duplicates merged)."""
    for c in f.conditions:
        _condition(cur, cand, c)
    _evidence(cur, cand, f.min_agreeing, f.min_gold_accuracy)
    extra: dict[str, Any] = {}
    if dataset:
        extra["exclusions"] = _exclusions(cur, cand, dataset)
    if f.dedupe:
        extra["duplicates_merged"] = _dedupe(cur, cand)
    return extra


def split_sql(seed: int, shares: tuple[float, ...], rows: str) -> str:
    """SELECT row_key, split for the kept rows of ``rows``: a session's rows (else a trace's,
    else the row's own) all go to one part, chosen by the first 32 bits of
    md5("<seed>:<session>") as a fraction of 2^32 against the cumulative shares."""
    train, val = float(shares[0]), float(shares[0] + shares[1])
    unit = f"""CAST(('0x' || md5('{int(seed)}:' || coalesce(session_id, trace_id, row_key))[1:8])
               AS UBIGINT) / 4294967296.0"""
    return f"""SELECT row_key, CASE WHEN u < {train!r} THEN 'train'
                                   WHEN u < {val!r} THEN 'validation' ELSE 'test' END AS split
               FROM (SELECT row_key, {unit} AS u FROM {rows})"""

