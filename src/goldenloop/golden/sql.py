"""The SQL that turns graded targets into candidate golden rows, each with the reason it is
left out (NULL when it is kept).

Which grades count follows agreement's rule: only live grades (the ``live_grades`` view);
of one author's live grades on a target the latest counts, and it is dropped when it says
"not applicable" or is flagged. Human grades are reviewers' (and
imported reviewers'); adjudication grades are kept apart and, when present, settle the
verdict. A grade's *verdict key* is "correct"/"incorrect" under the filter's correctness
rule, else its value; reviewers agree when their keys match. Comparisons always compare
values (A better, B better, tie).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from goldenloop.golden.filters import GoldenFilter
from goldenloop.store.shared_sql import CHOSEN_JUDGES, HUMAN, JUDGE
from goldenloop.store.span_filter import where

if TYPE_CHECKING:
    from goldenloop.store.store import Store

_VALUE = """coalesce(value_label, array_to_string(value_labels, '|'),
        CASE WHEN value_number = round(value_number)
             THEN CAST(CAST(value_number AS BIGINT) AS VARCHAR)
             ELSE CAST(value_number AS VARCHAR) END)"""
_PASS = """CASE WHEN target_type = 'comparison' THEN NULL
        WHEN value_label IS NOT NULL AND len($correct_labels) > 0
            THEN list_contains($correct_labels, value_label)
        WHEN value_labels IS NOT NULL AND len($correct_labels) > 0
            THEN len(value_labels) > 0 AND list_has_all($correct_labels, value_labels)
        WHEN value_number IS NOT NULL AND $correct_at IS NOT NULL
            THEN value_number >= $correct_at
        END"""

_GRADES = f"""
g0 AS (     -- only the columns used: wide rows (raw judge answers) would be carried along
    SELECT g.grade_id, g.target_type, g.target_id, g.target_type || ':' || g.target_id AS tk,
           g.span_key, g.author_id, g.judge_name, g.judge_model, g.judge_version,
           g.value_number, g.value_label, g.value_labels, g.not_applicable, g.flagged,
           g.is_adjudication, g.queue_id, g.queue_item_id, g.rubric_name,
           g.rubric_version, g.created_at,
           CASE WHEN {JUDGE} THEN 'judge' WHEN {HUMAN} THEN 'human' END AS side
    FROM live_grades g
    WHERE g.criterion = $criterion
      AND ($rubric_name IS NULL OR g.rubric_name = $rubric_name)
      AND ($rubric_version IS NULL OR g.rubric_version = $rubric_version)
      AND list_contains($target_types, g.target_type) AND {CHOSEN_JUDGES}
),
newest AS (   -- one author's latest grade on each target: a reviewer (their adjudications
              -- apart), or a judge name and version; a grouping over narrow columns costs
              -- less than a window that carries every column along
    SELECT max({{'t': coalesce(created_at, '-infinity'::TIMESTAMP), 'g': grade_id}}).g
               AS grade_id
    FROM g0 WHERE side IS NOT NULL
    GROUP BY tk, side, coalesce(author_id, ''), coalesce(judge_name, ''),
             coalesce(judge_version, ''), coalesce(is_adjudication, false)
),
latest AS (SELECT * FROM g0 WHERE grade_id IN (SELECT grade_id FROM newest)),
valued AS (
    SELECT *, {_VALUE} AS value, {_PASS} AS pass
    FROM latest
    WHERE NOT coalesce(not_applicable, false) AND NOT coalesce(flagged, false)
      AND (value_number IS NOT NULL OR value_label IS NOT NULL OR len(value_labels) > 0)
),
usable AS MATERIALIZED (   -- read by seven parts below: computed once
    SELECT *, CASE WHEN pass IS NULL THEN value WHEN pass THEN 'correct'
                   ELSE 'incorrect' END AS vkey
    FROM valued
),
humans AS (
    SELECT * FROM usable WHERE side = 'human' AND NOT coalesce(is_adjudication, false)
),
adj AS (
    SELECT * FROM usable WHERE side = 'human' AND coalesce(is_adjudication, false)
    QUALIFY row_number() OVER (PARTITION BY tk ORDER BY created_at DESC, grade_id DESC) = 1
),
hum AS (   -- per target: what the reviewers said (adjudications apart), and the target
    SELECT tk, any_value(target_type) AS target_type, any_value(target_id) AS target_id,
           max(span_key) AS span_key,
           count(*) FILTER (WHERE NOT adjudication) AS n_reviewers,
           coalesce(min(vkey) FILTER (WHERE NOT adjudication)
                    <> max(vkey) FILTER (WHERE NOT adjudication), false) AS split,
           -- ordered aggregates are slow: sort after
           list_sort(list(author_id) FILTER (WHERE NOT adjudication)) AS reviewers,
           list_sort(list({{'reviewer': author_id, 'value': value, 'grade_id': grade_id,
                            'adjudication': false}}) FILTER (WHERE NOT adjudication))
               AS grades_list
    FROM (SELECT *, coalesce(is_adjudication, false) AS adjudication FROM usable
          WHERE side = 'human')
    GROUP BY tk
),
key_votes AS (SELECT tk, vkey, count(*) AS n, list(author_id) AS who
              FROM humans GROUP BY tk, vkey),
value_votes AS (
    SELECT tk, vkey, value, count(*) AS n, max(grade_id) AS last_id
    FROM humans GROUP BY tk, vkey, value
),
majority_value AS (     -- the commonest value among the reviewers holding the majority key
    SELECT v.tk, v.last_id
    FROM value_votes v
    JOIN key_votes k ON k.tk = v.tk AND k.vkey = v.vkey
    JOIN hum h ON h.tk = v.tk
    WHERE k.n * 2 > h.n_reviewers
    QUALIFY row_number() OVER (PARTITION BY v.tk ORDER BY v.n DESC, v.last_id DESC) = 1
),
cand AS (SELECT * FROM hum),   -- every target a reviewer graded
verdict AS (
    SELECT c.tk, c.target_type, c.target_id, c.span_key,
           coalesce(a.grade_id, m.last_id) AS verdict_id, a.grade_id IS NOT NULL AS adjudicated,
           c.n_reviewers, c.split, c.reviewers, c.grades_list, a.author_id AS adjudicator,
           a.value AS adj_value, a.grade_id AS adj_grade_id
    FROM cand c
    LEFT JOIN adj a ON a.tk = c.tk
    LEFT JOIN majority_value m ON m.tk = c.tk
),
judge_all AS (
    SELECT tk,
           -- the latest judge grade's verdict key (no window and join of its own)
           max({{'t': coalesce(created_at, '-infinity'::TIMESTAMP), 'g': grade_id,
                 'k': vkey}}).k AS judge_vkey,
           to_json(list_sort(list({{'grade_id': grade_id, 'judge': judge_name,
                                    'model': judge_model, 'version': judge_version,
                                    'value': value}}))) AS judge_grades,   -- in grading order
           CASE WHEN count(judge_version) > 0     -- list(DISTINCT) would be one more grouping
                THEN list_sort(list_distinct(list(judge_version))) END AS judge_versions
    FROM usable WHERE side = 'judge' GROUP BY tk
),
in_queue AS (
    SELECT DISTINCT tk FROM usable
    WHERE side = 'human' AND list_contains($queue_ids, queue_id)
),
corr AS (
    SELECT c.target_type || ':' || c.target_id AS tk, c.correction_id, c.corrected_output,
           c.author_id
    FROM live_corrections c
    WHERE trim(coalesce(c.corrected_output, '')) <> ''
    QUALIFY row_number() OVER (PARTITION BY c.target_type, c.target_id
                               ORDER BY c.created_at DESC, c.correction_id DESC) = 1
)
"""

# The answer that was graded, and its context, per target type. Traces and sessions are
# represented by their last LLM span (the answer the user saw last).
_CONTEXT = """
last_of AS (   -- two equi-joins: an OR in one join condition would compare every pair
    SELECT tk, span_key FROM (
        SELECT c.tk, s.span_key, s.kind, s.start_time
        FROM cand c JOIN spans s ON s.trace_id = c.target_id
        WHERE c.target_type = 'trace'
        UNION ALL
        SELECT c.tk, s.span_key, s.kind, s.start_time
        FROM cand c JOIN spans s ON s.session_id = c.target_id
        WHERE c.target_type = 'session')
    QUALIFY row_number() OVER (PARTITION BY tk ORDER BY (kind = 'llm') DESC,
                                                        start_time DESC, span_key DESC) = 1
),
span_of AS (
    SELECT c.tk, c.target_type, c.target_id,
           CASE WHEN c.target_type = 'span' THEN coalesce(c.span_key,
                                                          TRY_CAST(c.target_id AS BIGINT))
                WHEN c.target_type IN ('trace', 'session') THEN l.span_key
                WHEN c.target_type = 'comparison' AND cm.a_type = 'span'
                    THEN TRY_CAST(cm.a_id AS BIGINT) END AS span_key,
           cm.input AS cmp_input, cm.a_output, cm.b_output,
           it.input AS item_input, it.output AS item_output, it.created_at AS item_time
    FROM cand c
    LEFT JOIN last_of l ON l.tk = c.tk
    LEFT JOIN comparisons cm ON c.target_type = 'comparison' AND cm.comparison_id = c.target_id
    LEFT JOIN items it ON c.target_type = 'item' AND it.item_id = c.target_id
),
ctx AS (   -- narrow: the long texts are joined last, and only for the rows kept
    SELECT o.tk, s.span_key, s.trace_id, s.span_id,
           CASE WHEN o.target_type = 'session' THEN o.target_id ELSE s.session_id END
               AS session_id,
           s.app, s.model_version, s.prompt_name, s.prompt_version,
           coalesce(s.start_time, o.item_time) AS start_time, s.tags,
           o.cmp_input, o.item_input, o.item_output, o.a_output, o.b_output,
           trim(coalesce(CASE WHEN o.target_type = 'item' THEN o.item_output ELSE s.output END,
                         '')) <> '' AS has_output
    FROM span_of o LEFT JOIN spans s ON s.span_key = o.span_key
),
"""

_ROWS = """
rows AS (
    SELECT v.tk AS row_key, v.target_type, v.target_id,
           x.span_key, x.trace_id, x.span_id, x.session_id, x.app, x.model_version,
           x.prompt_name, x.prompt_version, x.start_time, x.tags, x.cmp_input, x.item_input,
           x.item_output, x.a_output, x.b_output, x.has_output,
           g.value AS label, g.value_number AS label_number, g.pass, g.vkey,
           g.rubric_name, g.rubric_version, g.value_label,
           v.adjudicated, v.n_reviewers, v.split, v.reviewers, v.adjudicator,
           CASE WHEN v.adjudicated
                THEN list_append(coalesce(v.grades_list, []),
                                 {'reviewer': v.adjudicator, 'value': v.adj_value,
                                  'grade_id': v.adj_grade_id, 'adjudication': true})
                ELSE v.grades_list END AS grades_list,
           kv.n AS agreeing, kv.who AS agreeing_reviewers, ja.judge_vkey, ja.judge_grades, ja.judge_versions,
           c.correction_id, c.corrected_output, c.author_id AS corrected_by,
           qi.inclusion_prob, qi.queue_id
    FROM verdict v
    LEFT JOIN usable g ON g.grade_id = v.verdict_id
    LEFT JOIN key_votes kv ON kv.tk = v.tk AND kv.vkey = g.vkey
    LEFT JOIN ctx x ON x.tk = v.tk
    LEFT JOIN judge_all ja ON ja.tk = v.tk
    LEFT JOIN corr c ON c.tk = v.tk
    LEFT JOIN queue_items qi ON qi.queue_item_id = g.queue_item_id
    WHERE (len($queue_ids) = 0 OR v.tk IN (SELECT tk FROM in_queue))
      AND {span_where}
),
decided AS (
    SELECT *,
        CASE WHEN corrected_output IS NOT NULL THEN 'correction'
             WHEN target_type = 'comparison' AND value_label IN ('A better', 'B better')
                 THEN 'preferred_output'
             WHEN pass AND has_output THEN 'graded_output'
        END AS expected_source
    FROM rows
),
judged AS (
    SELECT *,
        CASE
            WHEN $source = 'adjudicated' AND NOT adjudicated THEN 'not adjudicated'
            WHEN $source = 'consensus' AND n_reviewers < $min_reviewers
                THEN 'too few reviewers'
            WHEN $source = 'consensus' AND split THEN 'reviewers disagree'
            WHEN label IS NULL THEN 'reviewers disagree'
            WHEN $source = 'human_judge' AND judge_vkey IS NULL THEN 'no judge grade'
            WHEN $source = 'human_judge' AND judge_vkey <> vkey THEN 'judge disagrees'
            WHEN ($min_value IS NOT NULL AND NOT coalesce(label_number >= $min_value, false))
              OR ($max_value IS NOT NULL AND NOT coalesce(label_number <= $max_value, false))
              OR (len($labels) > 0 AND NOT list_contains($labels, label))
                THEN 'outside the grade thresholds'
            WHEN expected_source IS NULL THEN 'no acceptable expected output'
        END AS reason,
        CASE WHEN adjudicated THEN 'adjudicated'
             WHEN n_reviewers = 1 THEN 'single reviewer'
             WHEN n_reviewers > 0 AND NOT split THEN 'unanimous'
             ELSE 'majority' END AS agreement_level,
        CASE WHEN n_reviewers > 0 THEN coalesce(agreeing, 0) / n_reviewers END
            AS human_agreement,
        CASE WHEN judge_vkey IS NOT NULL THEN judge_vkey = vkey END AS judge_agrees
    FROM decided
)
"""

# The stored row, in golden_rows' column order (row_hash first, created_at last).
ROW_COLUMNS = (
    "row_key", "target_type", "target_id", "span_key", "trace_id", "span_id", "session_id",
    "app", "model_version", "prompt_name", "prompt_version", "start_time", "tags",
    "system_prompt", "messages", "input", "output", "rejected_output", "expected_output",
    "expected_source", "criterion", "rubric_name", "rubric_version", "label", "label_number",
    "correct", "reviewers", "human_grades", "n_reviewers", "human_agreement",
    "agreement_level", "judge_grades", "judge_versions", "judge_agrees", "correction_id",
    "corrected_by", "inclusion_prob", "queue_id",
)
# Without the long texts: what decides a row, its provenance and what the texts come from.
_NARROW_SELECT = """row_key, target_type, target_id, span_key, trace_id, span_id, session_id,
    app, model_version, prompt_name, prompt_version, start_time, tags, expected_source,
    $criterion AS criterion, rubric_name, rubric_version, label, label_number, pass AS correct,
    reviewers, to_json(grades_list) AS human_grades, n_reviewers, human_agreement,
    agreement_level, judge_grades, judge_versions, judge_agrees, correction_id, corrected_by,
    inclusion_prob, queue_id, reason,
    value_label, corrected_output, cmp_input, item_input, item_output, a_output, b_output,
    agreeing, agreeing_reviewers"""

_GRADED = "CASE WHEN n.target_type = 'item' THEN n.item_output ELSE s.output END"
_A = "n.target_type = 'comparison' AND n.value_label = 'A better'"
_B = "n.target_type = 'comparison' AND n.value_label = 'B better'"
_OUTPUT = f"CASE WHEN {_A} THEN n.a_output WHEN {_B} THEN n.b_output ELSE {_GRADED} END"
_TEXTS = {
    "system_prompt": "s.system_prompt",
    "messages": "CASE WHEN n.target_type IN ('span', 'trace', 'session') THEN s.messages END",
    "input": "coalesce(n.cmp_input, n.item_input, s.last_user_message)",
    "output": _OUTPUT,
    "rejected_output": f"""CASE WHEN {_A} THEN n.b_output WHEN {_B} THEN n.a_output
        WHEN n.corrected_output IS NOT NULL AND NOT coalesce(n.correct, false)
            THEN {_GRADED} END""",
    "expected_output": f"""CASE WHEN n.expected_source = 'correction' THEN n.corrected_output
        WHEN n.expected_source IS NOT NULL THEN {_OUTPUT} END""",
}


def with_texts_sql(narrow: str, also: tuple[str, ...] = ()) -> str:
    """The stored row's columns, ``reason`` and the columns ``also`` for the rows of
    ``narrow`` (a parenthesised query or a table of ``candidates(f, texts=False)`` rows): the
    span's texts are joined here, for kept rows only; left-out rows get none (nothing reads
    them)."""
    cols = ", ".join([f"{_TEXTS[c]} AS {c}" if c in _TEXTS else f"n.{c}" for c in ROW_COLUMNS]
                     + [f"n.{c}" for c in ("reason", *also)])
    return f"""SELECT {cols}
               FROM {narrow} n
               LEFT JOIN spans s ON s.span_key = CASE WHEN n.reason IS NULL THEN n.span_key END"""


def candidates(f: GoldenFilter, *, texts: bool = True) -> tuple[str, dict[str, Any]]:
    """Every graded target the filter reaches: the row's columns and ``reason``, and the
    statement's parameters. The selection runs on narrow rows; with ``texts`` the long texts
    are joined at the end, for kept rows; without, the rows carry ``with_texts_sql``'s inputs
    instead (the way to select first and read texts only for the rows that need them). The
    span part of the filter is the one span filter's condition on the graded answer ``x``."""
    span_where, span_params = where(f.spans, "x", prefix="span_")
    sql = f"""WITH {_GRADES}, {_CONTEXT} {_ROWS.replace("{span_where}", span_where)}
        SELECT {_NARROW_SELECT} FROM judged"""
    if texts:
        sql = with_texts_sql(f"({sql})")
    # Typed parameters: an empty list or a None would otherwise bind without a type.
    return (re.sub(r"\$(\w+)", lambda m: _TYPED.get(m.group(1), m.group(0)), sql),
            {**params(f), **span_params})


def row_hash_sql(prefix: str = "") -> str:
    """A stored row's content hash: md5 over every stored column as text (NULL marked apart
    from empty, columns joined by a separator no text holds). md5 names content here; it
    guards against no adversary, and costs half of sha256."""
    parts = ", ".join(f"coalesce(CAST({prefix}{c} AS VARCHAR), chr(0))" for c in ROW_COLUMNS)
    return f"md5(concat_ws(chr(30), {parts}))"


_TYPED = {
    **{n: f"CAST(${n} AS VARCHAR[])" for n in ("correct_labels", "labels", "target_types")},
    "queue_ids": "CAST($queue_ids AS BIGINT[])",
    **{n: f"CAST(${n} AS DOUBLE)" for n in ("correct_at", "min_value", "max_value")},
    "rubric_name": "CAST($rubric_name AS VARCHAR)",
    "rubric_version": "CAST($rubric_version AS VARCHAR)",
}


def params(f: GoldenFilter) -> dict[str, Any]:
    return {
        "criterion": f.criterion, "rubric_name": f.rubric_name,
        "rubric_version": f.rubric_version, "source": f.source,
        "judge_versions": None if f.judges == "any" else list(f.judge_versions),
        "min_reviewers": f.min_reviewers,
        "correct_at": None if f.correct_at is None else float(f.correct_at),
        "correct_labels": list(f.correct_labels),
        "min_value": None if f.min_value is None else float(f.min_value),
        "max_value": None if f.max_value is None else float(f.max_value),
        "labels": list(f.labels), "target_types": list(f.target_types),
        "queue_ids": [int(q) for q in f.queue_ids],
    }


def dataset_counts(store: Store) -> tuple[int, int]:
    """(golden datasets, golden versions) stored."""
    row = store.rows("SELECT (SELECT count(*) FROM golden_datasets), "
                     "(SELECT count(*) FROM golden_versions)")[0]
    return int(row[0]), int(row[1])
