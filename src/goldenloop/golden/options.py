"""What a golden filter can choose from: graded criteria, and the apps, model and prompt
versions, tags and review queues of graded targets (the page's choices)."""

from __future__ import annotations

from dataclasses import dataclass

from goldenloop.golden.spans import spans_here
from goldenloop.spanstore.base import DUCKDB, SpanStore
from goldenloop.store import Store


@dataclass(frozen=True)
class Criterion:
    name: str
    human_grades: int
    value_type: str | None
    labels: tuple[str, ...]
    min_value: float | None
    max_value: float | None
    # Rubric versions that define the criterion, "name@version", newest first: the page's
    # choice of whose scale sets the "correct at" rule.
    rubrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Options:
    criteria: tuple[Criterion, ...]
    apps: tuple[str, ...]
    model_versions: tuple[str, ...]
    prompt_versions: tuple[str, ...]
    tags: tuple[str, ...]
    queues: tuple[tuple[int, str], ...]


def _values(store: Store, column: str) -> tuple[str, ...]:
    rows = store.rows(
        f"""SELECT DISTINCT s.{column} FROM spans s
            WHERE s.span_key IN (SELECT span_key FROM live_grades WHERE source = 'human')
              AND s.{column} IS NOT NULL ORDER BY 1""")
    return tuple(str(v) for (v,) in rows)


def options(store: Store, spans: SpanStore | None = None) -> Options:
    """What the golden filters offer: criteria graded by people, the apps, versions and tags
    of the spans they graded, the queues. ``spans``: where the spans live (None: the store's
    own file); elsewhere, the graded spans are fetched by key for the cursor's reads here."""
    fetched = None
    if spans is not None and spans.dialect != DUCKDB:
        from goldenloop.spanstore.keyed import local_spans

        keys = [k for (k,) in store.rows("SELECT DISTINCT span_key FROM live_grades "
                                         "WHERE source = 'human' AND span_key IS NOT NULL")]
        fetched = local_spans(spans, keys, ["span_key", "app", "model_version",
                                            "prompt_version", "tags"])
    with spans_here(store.cursor(), fetched):
        return _options(store)


def _options(store: Store) -> Options:
    crit = store.rows(
        """WITH graded AS (SELECT criterion, count(*) AS n FROM live_grades
                           WHERE source IN ('human', 'imported')
                           GROUP BY ALL),
                meta AS (SELECT * FROM criteria
                         QUALIFY row_number() OVER (PARTITION BY name
                                                    ORDER BY created_at DESC) = 1),
                defined AS (SELECT name, list(rubric_name || '@' || rubric_version
                                              ORDER BY created_at DESC) AS rubrics
                            FROM criteria GROUP BY name)
           SELECT g.criterion, g.n, m.value_type, coalesce(m.labels, []), m.min_value,
                  m.max_value, coalesce(d.rubrics, [])
           FROM graded g LEFT JOIN meta m ON m.name = g.criterion
           LEFT JOIN defined d ON d.name = g.criterion
           WHERE coalesce(m.value_type, '') <> 'text'
           ORDER BY g.n DESC, g.criterion""")
    tags = store.rows(
        """SELECT DISTINCT unnest(s.tags) FROM spans s
           WHERE s.span_key IN (SELECT span_key FROM live_grades WHERE source = 'human')
           ORDER BY 1""")
    queues = store.rows("SELECT queue_id, name FROM queues ORDER BY queue_id DESC")
    return Options(
        tuple(Criterion(c, int(n), t, tuple(labels), lo, hi, tuple(r))
              for c, n, t, labels, lo, hi, r in crit),
        _values(store, "app"), _values(store, "model_version"), _values(store, "prompt_version"),
        tuple(str(t) for (t,) in tags if t is not None),
        tuple((int(q), str(n)) for q, n in queues))
