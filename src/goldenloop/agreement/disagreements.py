"""Where a judge and a reviewer disagree: the list a lead reads, and the adjudication queue it
becomes.

``disagreements`` picks pairs (``judge_human_pairs`` rows) whose two grades differ — or, for
a click on a confusion-matrix cell, exactly the pairs of that cell. ``with_notes`` adds what
a lead needs to judge them: the judge's reason, the reviewer's comment, and the start of the
question and answer, the size of the gap between the two grades and the ids that open the
row's trace. ``arrange`` filters the list by the gap and sorts it. ``adjudication_queue``
turns the listed spans (or the rows a lead selected) into a review queue whose grades are
flagged as adjudication (they are made after seeing both sides, so agreement statistics leave
them out).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from goldenloop.agreement import sql as q
from goldenloop.agreement.scale import Scale, label_of
from goldenloop.sampling import QueueOptions, QueueSummary, create_hand_queue
from goldenloop.store.store import Store

LIST_COLUMNS = ("item", "span_key", "criterion", "gap", "judge_name", "judge_version", "reviewer",
                "human", "judge", "judge_reason", "human_comment", "question", "answer", "app",
                "model_version", "start_time", "trace_id", "span_id")
# How a lead may order the list: a column and whether the largest comes first.
ORDERS = {"largest gap": ("gap", False), "newest": ("start_time", False),
          "oldest": ("start_time", True), "reviewer": ("reviewer", True)}


def disagreements(scale: Scale, pairs: pd.DataFrame, *, cell: tuple[str, str] | None = None,
                  tolerance: float = 0.0) -> pd.DataFrame:
    """Pairs whose grades differ (by more than ``tolerance`` on interval scales), or with
    ``cell=(human label, judge label)`` every pair of that confusion-matrix cell, agreeing
    or not. Pairs with a missing or off-scale grade are never listed."""
    h, j = scale.encode(pairs["human"]), scale.encode(pairs["judge"])
    ok = np.isfinite(h) & np.isfinite(j)
    if cell is not None:
        if not scale.categorical:
            raise ValueError("interval criteria have no confusion-matrix cells")
        want = scale.encode(pd.Series([cell[0], cell[1]], dtype=object))
        keep = ok & (h == want[0]) & (j == want[1])
    elif scale.categorical:
        keep = ok & (h != j)
    else:
        keep = ok & (np.abs(h - j) > tolerance)
    out = pairs[keep].copy()
    # The gap: scale steps apart (ordinal, boolean), 1 for two different nominal labels, the
    # difference of the values (interval). A nominal scale has no order, so no larger gap.
    gap = np.abs(h - j)[keep]
    out["gap"] = np.minimum(gap, 1.0) if scale.value_type == "nominal" else gap
    if scale.categorical:  # show the scale's own labels ("4", not 4.0)
        out["human"] = out["human"].map(label_of)
        out["judge"] = out["judge"].map(label_of)
    return out.reset_index(drop=True)


def with_notes(store: Store, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the judge's reason, the reviewer's comment, the question and the answer,
    in ``LIST_COLUMNS`` order."""
    out = rows.copy()
    grade_ids = [*out["judge_grade_id"].dropna(), *out["human_grade_id"].dropna()]
    notes = q.grade_notes(store, grade_ids).set_index("grade_id")
    out["judge_reason"] = out["judge_grade_id"].map(notes["reason"])
    out["human_comment"] = out["human_grade_id"].map(notes["comment"])
    keys = out["span_key"].dropna().astype("int64").unique().tolist()
    texts = q.span_texts(store, keys).set_index("span_key")
    span_key = out["span_key"].astype("Int64")
    for col in ("question", "answer", "trace_id", "span_id"):
        out[col] = span_key.map(texts[col])
    return out[list(LIST_COLUMNS)]


def arrange(rows: pd.DataFrame, *, min_gap: float = 0.0, order: str = "largest gap"
            ) -> pd.DataFrame:
    """The rows whose gap is at least ``min_gap``, in the named order (``ORDERS``); ties keep
    the newest first. The index is reset: a selection refers to the rows as shown."""
    if order not in ORDERS:
        raise ValueError(f"order by one of {', '.join(ORDERS)}, not {order!r}")
    col, ascending = ORDERS[order]
    kept = rows[rows["gap"] >= min_gap]
    kept = kept.sort_values("start_time", ascending=False, kind="stable", na_position="last")
    return kept.sort_values(col, ascending=ascending, kind="stable",
                            na_position="last").reset_index(drop=True)


def queue_span_keys(rows: pd.DataFrame) -> tuple[list[int], int]:
    """(distinct span keys of the listed span items, how many listed items are not spans).
    Review queues made by hand hold spans; traces, sessions and items are counted apart."""
    spans = rows["target_type"].eq("span") & rows["span_key"].notna()
    keys = sorted({int(k) for k in rows.loc[spans, "span_key"]})
    others = int(rows.loc[~spans, "item"].nunique())
    return keys, others


def adjudication_queue(store: Store, rows: pd.DataFrame, *, name: str, created_by: str,
                       rubric: str, description: str = "") -> tuple[QueueSummary, int]:
    """A review queue of the spans in ``rows`` whose grades are flagged as adjudication.
    Returns the queue and how many listed items could not go in (not spans)."""
    keys, others = queue_span_keys(rows)
    opts = QueueOptions(name=name, created_by=created_by, rubric=rubric,
                        description=description, purpose="adjudication")
    return create_hand_queue(store, opts, span_keys=keys), others
