"""SQL that turns stored grades into the frames agreement is computed from.

Grades are append-only: an edit is a new row whose ``supersedes`` names the grade it
replaces, and an undo a retraction row superseding it. Only live grades count (the
``live_grades`` view, the store's one definition: not retracted, not superseded), and of
several live grades by one author (a reviewer; a judge name and version) on one target and
criterion the latest counts. That latest grade is then dropped when it says "not
applicable" or is flagged — an author who ends on N/A has no grade, rather than falling
back to an older one. Adjudication
grades are left out unless asked for: they are made after seeing the others, so they are
not independent ratings.

Which rubric versions meet: a judge grade and a human grade are compared when they grade the
same target, under the same rubric NAME and criterion, and the criterion's SCALE is the same
in both grades' rubric versions — the same value type, the same levels (min..max) and the
same labels in the same order (and single or multiple choice). Descriptions of levels and
instructions may differ: a lead who rewords a rubric, or a judge run that stores the packaged
rubric under its content-hash version, still meets grades made under the earlier version.
Grades under two versions whose scales differ are never compared. With no version named,
each rubric counts its grades under its current scale of the criterion (that of its latest
version in ``criteria``); grades under an earlier, different scale count only when that
version is named, and naming a version keeps both sides to exactly that version. A grade
whose rubric version defines no such criterion is compared only within its own version.
Among one author's grades on a target, the latest under the same scale counts, whichever
version it was made under.

Each row carries what agreement is sliced by: the span's app, model version, session and
start time (for trace targets, those of the trace's first span; a session target is its
own session), the judge's name, model and version, the reviewer, and for item targets the
item's metadata (JSON text; its keys are slices ``meta:KEY``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Which side a grade is on and which judge grades count: shared rules, kept in the store.
from goldenloop.store.shared_sql import CHOSEN_JUDGES, HUMAN, JUDGE, NO_VERSION
from goldenloop.store.store import Store

__all__ = ["CHOSEN_JUDGES", "HUMAN", "JUDGE", "NO_VERSION"]  # re-exported for agreement's readers

# A criterion's scale as one comparable string: what two rubric versions must share for
# their grades to be compared (descriptions and instructions are left out on purpose).
_SCALE_KEY = """to_json(struct_pack(value_type := c.value_type, labels := c.labels,
                                     min_value := c.min_value, max_value := c.max_value,
                                     multi_select := coalesce(c.multi_select, false)))::VARCHAR"""

_SCALES = f"""
scales AS (
    SELECT c.rubric_name, c.rubric_version, c.created_at, {_SCALE_KEY} AS scale_key
    FROM criteria c WHERE c.name = $criterion
),
current_scale AS (
    SELECT rubric_name,
           first(scale_key ORDER BY created_at DESC, rubric_version DESC) AS scale_key
    FROM scales GROUP BY rubric_name
)"""

_GRADED = f"""{_SCALES},
live AS (
    SELECT g.*, CASE WHEN {JUDGE} THEN 'judge' WHEN {HUMAN} THEN 'human' END AS side,
           coalesce(sc.scale_key, 'undefined in version ' || coalesce(g.rubric_version, ''))
               AS scale_key
    FROM live_grades g
    LEFT JOIN scales sc ON sc.rubric_name IS NOT DISTINCT FROM g.rubric_name
                       AND sc.rubric_version IS NOT DISTINCT FROM g.rubric_version
    LEFT JOIN current_scale cs ON cs.rubric_name IS NOT DISTINCT FROM g.rubric_name
    WHERE g.criterion = $criterion
      AND ($rubric_name IS NULL OR g.rubric_name = $rubric_name)
      AND CASE WHEN $rubric_version IS NOT NULL THEN g.rubric_version = $rubric_version
               ELSE cs.scale_key IS NULL OR sc.scale_key = cs.scale_key END
),
latest AS (
    SELECT * FROM live
    WHERE side IS NOT NULL AND ($adjudication OR NOT coalesce(is_adjudication, false))
    QUALIFY row_number() OVER (
        PARTITION BY target_type, target_id, rubric_name, scale_key, side, author_id,
                     judge_name, judge_version
        ORDER BY created_at DESC, grade_id DESC) = 1
),
usable AS (
    SELECT * FROM latest
    WHERE NOT coalesce(not_applicable, false) AND NOT coalesce(flagged, false)
),
trace_info AS (
    SELECT s.trace_id,
           arg_min(s.session_id, s.start_time) AS session_id,
           arg_min(s.app, s.start_time) AS app,
           arg_min(s.model_version, s.start_time) FILTER (WHERE s.model_version IS NOT NULL)
               AS model_version,
           min(s.start_time) AS start_time
    FROM spans s
    WHERE s.trace_id IN (SELECT target_id FROM usable WHERE target_type = 'trace')
    GROUP BY s.trace_id
),
graded AS (
    SELECT u.grade_id, u.target_type, u.target_id, u.span_key, u.criterion,
           u.rubric_name, u.rubric_version, u.scale_key, u.side, u.author_id, u.judge_name,
           u.judge_model, u.judge_version, u.value_number, u.value_label, u.is_gold,
           u.is_adjudication, u.created_at,
           u.target_type || ':' || u.target_id AS item,
           coalesce(sp.session_id, ti.session_id,
                    CASE WHEN u.target_type = 'session' THEN u.target_id END) AS session_id,
           coalesce(sp.app, ti.app) AS app,
           coalesce(sp.model_version, ti.model_version) AS model_version,
           coalesce(sp.start_time, ti.start_time) AS start_time,
           CAST(it.metadata AS VARCHAR) AS item_metadata   -- slices by its keys (meta:KEY)
    FROM usable u
    LEFT JOIN spans sp ON u.target_type = 'span' AND sp.span_key = u.span_key
    LEFT JOIN trace_info ti ON u.target_type = 'trace' AND ti.trace_id = u.target_id
    LEFT JOIN items it ON u.target_type = 'item' AND it.item_id = u.target_id
),
with_cluster AS (
    SELECT *, coalesce('session:' || session_id, item) AS cluster FROM graded
)
"""

# Two grades are compared when they grade one target under one rubric name and one scale of
# the criterion (the module's docstring says why versions need not match).
_SAME_TARGET = """h.item = j.item AND h.rubric_name IS NOT DISTINCT FROM j.rubric_name
                  AND h.scale_key = j.scale_key"""


def _absent(value: object) -> object:
    """None for a missing name or version, however a frame spelled it (None, NaN, NA): a
    version read from ``graded_criteria`` can be missing, meaning "no version filter"."""
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _params(criterion: str, rubric_name: str | None, rubric_version: str | None,
            adjudication: bool) -> dict:
    return {"criterion": criterion, "rubric_name": _absent(rubric_name),
            "rubric_version": _absent(rubric_version), "adjudication": adjudication}


def value_column(label: pd.Series, number: pd.Series) -> np.ndarray:
    """One grade value: the label when there is one, else the number."""
    out = number.astype(object).to_numpy(copy=True)
    has_label = label.notna().to_numpy()
    out[has_label] = label.to_numpy()[has_label]
    return out


def live_grades(store: Store, criterion: str, *, rubric_name: str | None = None,
                rubric_version: str | None = None, adjudication: bool = False) -> pd.DataFrame:
    """One row per counted grade (human and judge) of ``criterion``, with ``value``."""
    df = store.df(f"WITH {_GRADED} SELECT * FROM with_cluster ORDER BY item, side, author_id",
                  _params(criterion, rubric_name, rubric_version, adjudication))
    df["value"] = value_column(df["value_label"], df["value_number"])
    return _named_judges(df)


def _named_judges(df: pd.DataFrame) -> pd.DataFrame:
    """Judges imported without a name or version get NO_VERSION: grouping by judge keys
    drops missing values, and a page would lose (or crash on) such a judge."""
    judge = (df["side"] == "judge") if "side" in df else pd.Series(True, index=df.index)
    for col in ("judge_name", "judge_version"):
        df[col] = df[col].astype(object).where(df[col].notna() | ~judge, NO_VERSION)
    return df


def judge_human_pairs(store: Store, criterion: str, *, rubric_name: str | None = None,
                      rubric_version: str | None = None, adjudication: bool = False
                      ) -> pd.DataFrame:
    """Every (judge grade, human grade) of one target: one row per judge version and reviewer,
    with ``human`` and ``judge`` values and the columns agreement is sliced by."""
    df = store.df(
        f"""WITH {_GRADED}
            SELECT j.item, j.cluster, j.target_type, j.target_id, j.span_key, j.criterion,
                   j.rubric_name, j.rubric_version, j.session_id, j.app, j.model_version,
                   j.start_time, j.item_metadata, h.author_id AS reviewer,
                   h.grade_id AS human_grade_id,
                   h.value_number AS human_number, h.value_label AS human_label,
                   h.created_at AS human_created_at, h.is_gold,
                   h.rubric_version AS human_rubric_version,
                   j.judge_name, j.judge_model, j.judge_version, j.grade_id AS judge_grade_id,
                   j.value_number AS judge_number, j.value_label AS judge_label,
                   j.created_at AS judge_created_at
            FROM with_cluster j JOIN with_cluster h ON {_SAME_TARGET}
            WHERE j.side = 'judge' AND h.side = 'human'
            ORDER BY j.judge_name, j.judge_version, j.item, reviewer""",
        _params(criterion, rubric_name, rubric_version, adjudication))
    df["human"] = value_column(df["human_label"], df["human_number"])
    df["judge"] = value_column(df["judge_label"], df["judge_number"])
    return _named_judges(df)


def human_human_pairs(store: Store, criterion: str, *, rubric_name: str | None = None,
                      rubric_version: str | None = None, adjudication: bool = False
                      ) -> pd.DataFrame:
    """Every pair of two reviewers' grades of one target (reviewer_a < reviewer_b), with
    values ``a`` and ``b``."""
    df = store.df(
        f"""WITH {_GRADED}
            SELECT h.item, h.cluster, h.author_id AS reviewer_a, j.author_id AS reviewer_b,
                   h.value_number AS a_number, h.value_label AS a_label,
                   j.value_number AS b_number, j.value_label AS b_label,
                   h.app, h.model_version, h.start_time
            FROM with_cluster h JOIN with_cluster j ON {_SAME_TARGET}
            WHERE h.side = 'human' AND j.side = 'human' AND h.author_id < j.author_id
            ORDER BY h.item, reviewer_a, reviewer_b""",
        _params(criterion, rubric_name, rubric_version, adjudication))
    df["a"] = value_column(df["a_label"], df["a_number"])
    df["b"] = value_column(df["b_label"], df["b_number"])
    return df


def criterion_rows(store: Store, criterion: str, rubric_name: str | None = None,
                   rubric_version: str | None = None) -> pd.DataFrame:
    """The ``criteria`` rows defining ``criterion`` (every rubric version unless named)."""
    return store.df(
        """SELECT * FROM criteria
           WHERE name = $criterion
             AND ($rubric_name IS NULL OR rubric_name = $rubric_name)
             AND ($rubric_version IS NULL OR rubric_version = $rubric_version)
           ORDER BY rubric_name, created_at DESC, rubric_version DESC""",
        {"criterion": criterion, "rubric_name": _absent(rubric_name),
         "rubric_version": _absent(rubric_version)})


def graded_criteria(store: Store) -> pd.DataFrame:
    """Criteria with both human and judge grades: what agreement can be shown for.

    One row per rubric name and criterion for the grades under its current scale, whichever
    versions they were made under: ``rubric_version`` is that version when there is one,
    else NULL (no version filter: the current scale's versions meet), and
    ``rubric_versions`` lists them. A version whose scale differs from the current one gets
    a row of its own (its grades are compared only among themselves)."""
    df = store.df(
        f"""WITH all_scales AS (
                SELECT c.rubric_name, c.rubric_version, c.name AS criterion, c.value_type,
                       c.created_at, {_SCALE_KEY} AS scale_key
                FROM criteria c
            ),
            now_scale AS (
                SELECT rubric_name, criterion,
                       first(scale_key ORDER BY created_at DESC, rubric_version DESC) AS scale_key
                FROM all_scales GROUP BY rubric_name, criterion
            ),
            counted AS (
                SELECT s.rubric_name, s.rubric_version, s.criterion, s.value_type,
                       s.scale_key = n.scale_key AS is_current,
                       count(*) FILTER (WHERE {HUMAN}) AS human_grades,
                       count(*) FILTER (WHERE {JUDGE}) AS judge_grades
                FROM all_scales s
                JOIN now_scale n ON n.rubric_name IS NOT DISTINCT FROM s.rubric_name
                                AND n.criterion = s.criterion
                JOIN live_grades g ON g.criterion = s.criterion
                             AND g.rubric_name IS NOT DISTINCT FROM s.rubric_name
                             AND g.rubric_version IS NOT DISTINCT FROM s.rubric_version
                GROUP BY ALL
            )
            SELECT rubric_name,
                   CASE WHEN count(*) = 1 THEN first(rubric_version) END AS rubric_version,
                   criterion, first(value_type) AS value_type,
                   CAST(sum(human_grades) AS BIGINT) AS human_grades,
                   CAST(sum(judge_grades) AS BIGINT) AS judge_grades,
                   list(rubric_version ORDER BY rubric_version) AS rubric_versions
            FROM counted WHERE is_current
            GROUP BY rubric_name, criterion
            HAVING sum(human_grades) > 0 AND sum(judge_grades) > 0
            UNION ALL
            SELECT rubric_name, rubric_version, criterion, value_type, human_grades,
                   judge_grades, [rubric_version]
            FROM counted
            WHERE NOT is_current AND human_grades > 0 AND judge_grades > 0
            ORDER BY rubric_name, rubric_version NULLS FIRST, criterion""")
    # A missing version stays None (not NaN): callers pass it back as "no version filter".
    df["rubric_version"] = pd.Series([_absent(v) for v in df["rubric_version"]], dtype=object,
                                     index=df.index)
    return df


def judge_versions_of(store: Store, criterion: str) -> pd.DataFrame:
    """Judge versions with live grades of ``criterion`` (a missing one is NO_VERSION), with
    their judge's name, how many grades, and the rubric most of them were made under:
    judge_name, judge_version, grades, rubric_name."""
    return store.df(
        f"""SELECT coalesce(g.judge_version, '(no version)') AS judge_version,
                   coalesce(any_value(g.judge_name), '') AS judge_name, count(*) AS grades,
                   mode(g.rubric_name) AS rubric_name
            FROM live_grades g WHERE g.criterion = $c AND {JUDGE}
            GROUP BY ALL ORDER BY judge_version""", {"c": criterion}
    )[["judge_name", "judge_version", "grades", "rubric_name"]]


def judged_criteria(store: Store) -> list[str]:
    """Criteria with live judge grades."""
    return [c for (c,) in store.rows(
        f"SELECT DISTINCT g.criterion FROM live_grades g WHERE {JUDGE} ORDER BY 1")]


def grade_notes(store: Store, grade_ids: list[int]) -> pd.DataFrame:
    """Per grade: its comment, and the reason it gives — the comment when its author wrote
    one, else the explanation field of a judge's raw JSON answer (judges asked for JSON put
    their reasoning there rather than in a comment)."""
    return store.df(
        """SELECT grade_id, comment,
                  coalesce(comment, json_extract_string(raw, '$.explanation'),
                           json_extract_string(raw, '$.reason'),
                           json_extract_string(raw, '$.rationale')) AS reason
           FROM grades WHERE grade_id IN (SELECT unnest($ids::BIGINT[]))""",
        {"ids": [int(g) for g in grade_ids]})


def span_texts(store: Store, span_keys: list[int], width: int = 300) -> pd.DataFrame:
    """The user's last message and the answer of each span, cut to ``width`` characters
    (enough for a lead to recognise a disagreement), and the ids that open its trace."""
    return store.df(
        """SELECT span_key, left(last_user_message, $w) AS question, left(output, $w) AS answer,
                  trace_id, span_id
           FROM spans WHERE span_key IN (SELECT unnest($keys::BIGINT[]))""",
        {"keys": [int(k) for k in span_keys], "w": width})
