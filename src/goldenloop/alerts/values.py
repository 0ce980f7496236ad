"""SQL of the values alert rules watch: every metric of a rule's filter over its window (and
over the reference period a "change" rule compares with), open anomalies by severity.

Rules that share a filter, a window and a reference period are answered by one statement per
family of metrics (requests, signals, feedback, grades, tool spans): 100 rules over a few
filters cost a few scans, not 100. Values come back per period: 0 the rule's window, 1 the
reference period. Each value carries its sample size ``n``: requests, scored texts, thumbs,
graded spans or tool spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from goldenloop.metrics import OFFENSIVE_THRESHOLD, REQUEST_KIND, where_clause
from goldenloop.store.span_columns import production_sql
from goldenloop.store.store import Store

DAY_US = 86_400_000_000

# family -> metric -> (value expression, sample-size expression), over spans aliased s.
_REQUESTS = {
    "requests": ("count(*)", "count(*)"),
    "latency_p50": ("quantile_cont(s.latency_ms, 0.5)", "count(s.latency_ms)"),
    "latency_p95": ("quantile_cont(s.latency_ms, 0.95)", "count(s.latency_ms)"),
    "latency_p99": ("quantile_cont(s.latency_ms, 0.99)", "count(s.latency_ms)"),
    "ttft_p95": ("quantile_cont(s.ttft_ms, 0.95)", "count(s.ttft_ms)"),
    "error_rate": ("avg((s.status = 'error')::DOUBLE)", "count(*)"),
    "timeout_rate": ("avg((s.status = 'timeout')::DOUBLE)", "count(*)"),
    "empty_rate": ("avg((s.status = 'empty')::DOUBLE)", "count(*)"),
    "input_tokens": ("avg(CASE WHEN s.status = 'ok' THEN s.input_tokens END)",
                     "count(CASE WHEN s.status = 'ok' THEN s.input_tokens END)"),
    "output_tokens": ("avg(CASE WHEN s.status = 'ok' THEN s.output_tokens END)",
                      "count(CASE WHEN s.status = 'ok' THEN s.output_tokens END)"),
    "cost_usd": ("avg(s.cost_usd)", "count(s.cost_usd)"),
    "cost_total_usd": ("coalesce(sum(s.cost_usd), 0)", "count(*)"),
}
_SIGNALS = {
    "user_offensive_rate": (f"avg((g.user_offensive >= {OFFENSIVE_THRESHOLD})::DOUBLE)",
                            "count(g.user_offensive)"),
    "output_offensive_rate": (f"avg((g.output_offensive >= {OFFENSIVE_THRESHOLD})::DOUBLE)",
                              "count(g.output_offensive)"),
    "user_sentiment": ("avg(g.user_sentiment)", "count(g.user_sentiment)"),
    "output_sentiment": ("avg(g.output_sentiment)", "count(g.output_sentiment)"),
    "refusal_rate": ("avg(g.refusal::DOUBLE)", "count(g.refusal)"),
}
_TOOLS = {
    "tool_error_rate": ("avg((s.status <> 'ok')::DOUBLE)", "count(*)"),
    "tool_latency_p95": ("quantile_cont(s.latency_ms, 0.95)", "count(s.latency_ms)"),
}
_FEEDBACK = {"negative_feedback_rate": ("sum(fb.down) / nullif(sum(fb.thumbs), 0)",
                                        "coalesce(sum(fb.thumbs), 0)")}
_GRADES = {"correctness": ("avg(gr.value)", "count(*)")}
# Per scored item of the canary runs started in the period (failed calls score 0).
_CANARIES = {"canary_score": ("avg(s.value)", "count(s.value)")}
FAMILIES = {"requests": _REQUESTS, "signals": _SIGNALS, "tools": _TOOLS,
            "feedback": _FEEDBACK, "grades": _GRADES, "canaries": _CANARIES}
FAMILY_OF = {m: fam for fam, metrics in FAMILIES.items() for m in metrics}
TOOL_KINDS = ("tool", "retrieval")


@dataclass(frozen=True)
class Periods:
    """The rule's window ``[start, end)`` and its reference: ``previous`` (the window before)
    or ``baseline`` (the same clock window on each of the ``days`` days before), or none."""

    start: datetime
    end: datetime
    reference: str | None = None
    days: int = 7

    @property
    def window(self) -> timedelta:
        return self.end - self.start

    @property
    def scan_start(self) -> datetime:
        if self.reference == "previous":
            return self.start - self.window
        if self.reference == "baseline":
            return self.start - timedelta(days=self.days)
        return self.start

    @property
    def reference_length(self) -> timedelta:
        """How much time the reference covers (to scale totals such as requests)."""
        if self.reference == "baseline":
            return self.window * self.days
        return self.window

    def period_sql(self) -> tuple[str, dict]:
        """A SQL expression: 0 for spans in the window, 1 in the reference, NULL otherwise."""
        params = {"p_start": self.start, "p_end": self.end, "p_scan": self.scan_start}
        if self.reference == "baseline":
            params |= {"p_start_us": _epoch_us(self.start), "p_len_us": _us(self.window),
                       "p_day_us": DAY_US}
            ref = ("((epoch_us(s.start_time) - $p_start_us) % $p_day_us + $p_day_us) "
                   "% $p_day_us < $p_len_us")
        else:
            ref = "TRUE"
        expr = (f"CASE WHEN s.start_time >= $p_start THEN 0 WHEN {ref} THEN 1 END")
        return expr, params


def _us(td: timedelta) -> int:
    return int(td.total_seconds() * 1_000_000)


def _epoch_us(t: datetime) -> int:
    return _us(t - datetime(1970, 1, 1))


def family_values(store: Store, family: str, metrics: set[str], f, periods: Periods,
                  criterion: str = "correctness") -> dict[tuple[int, str], tuple[float | None, int]]:
    """``{(period, metric): (value, n)}`` for the asked metrics of one family. For the
    canaries family ``f`` is the rule's own filter (suites, model versions) and ``criterion``
    the scorer."""
    if family == "canaries" and not store.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'experiment_runs'"):
        return {}
    exprs = FAMILIES[family]
    chosen = sorted(m for m in metrics if m in exprs)
    cols = ", ".join(f"{exprs[m][0]} AS \"v_{m}\", {exprs[m][1]} AS \"n_{m}\"" for m in chosen)
    if family == "canaries":
        where, params = "TRUE", {"suites": list(f.suites), "versions": list(f.model_versions)}
    else:
        where, params = where_clause(f, with_time=False)
    period, pparams = periods.period_sql()
    params |= pparams
    scan = (f"s.start_time >= $p_scan AND s.start_time < $p_end AND {production_sql('s')} "
            f"AND {where}")
    if family == "canaries":  # runs stand in for spans: their start time places them
        source = """(SELECT u.started_at AS start_time, c.value
                FROM experiment_runs u JOIN experiment_scores c USING (run_id)
                JOIN experiment_results r ON r.run_id = c.run_id AND r.item_key = c.item_key
                WHERE u.source = 'canary' AND c.scorer = $scorer
                  AND (len($suites) = 0 OR list_contains($suites, u.suite))
                  AND (len($versions) = 0 OR list_contains($versions, r.model_version))
            ) s WHERE s.start_time >= $p_scan AND s.start_time < $p_end"""
        params["scorer"] = criterion
    elif family == "requests":
        source = f"spans s WHERE s.kind = '{REQUEST_KIND}' AND {scan}"
    elif family == "tools":
        source = f"spans s WHERE list_contains($tool_kinds, s.kind) AND {scan}"
        params["tool_kinds"] = list(TOOL_KINDS)
    elif family == "signals":
        source = f"signals g JOIN spans s ON s.span_key = g.span_key WHERE {scan}"
    elif family == "feedback":
        source = f"""spans s JOIN (
                SELECT span_key, count(*) FILTER (WHERE kind = 'thumbs') AS thumbs,
                       count(*) FILTER (WHERE kind = 'thumbs' AND value = 0) AS down
                FROM feedback WHERE span_key IS NOT NULL GROUP BY span_key
            ) fb ON fb.span_key = s.span_key WHERE s.kind = '{REQUEST_KIND}' AND {scan}"""
    else:  # grades: a span graded several times counts once, with the mean of its grades
        source = f"""spans s JOIN (
                SELECT span_key, avg(value_number) AS value FROM live_grades
                WHERE criterion = $criterion AND span_key IS NOT NULL
                  AND value_number IS NOT NULL AND NOT coalesce(not_applicable, false)
                  AND list_contains(['human', 'judge'], source)
                GROUP BY span_key
            ) gr ON gr.span_key = s.span_key WHERE {scan}"""
        params["criterion"] = criterion
    rows = store.rows(
        f"""SELECT {period} AS period, {cols} FROM {source} AND ({period}) IS NOT NULL
            GROUP BY ALL""",
        params,
    )
    out: dict[tuple[int, str], tuple[float | None, int]] = {}
    for row in rows:
        for i, m in enumerate(chosen):
            value, n = row[1 + 2 * i], row[2 + 2 * i]
            out[(int(row[0]), m)] = (None if value is None else float(value), int(n or 0))
    return out


def anomaly_severity(store: Store, apps: list[str], metrics: list[str], since: datetime,
                     at: datetime) -> tuple[int, int, str | None]:
    """The highest severity among anomalies still open at ``at`` (open or acknowledged, or
    muted with the mute run out) and last detected since ``since``, how many there are, and
    the description of the most severe (the latest among equals). (0, 0, None) when detection
    has not made its table yet."""
    if not store.scalar("SELECT count(*) FROM information_schema.tables "
                        "WHERE table_name = 'anomalies'"):
        return 0, 0, None
    row = store.rows(
        """SELECT coalesce(max(severity), 0), count(*),
                  arg_max(coalesce(description, metric || ' ' || coalesce(kind, 'anomaly')
                                   || ' in ' || coalesce(app, 'all apps')),
                          severity * 1e11 + epoch(last_detected_at))
           FROM anomalies
           WHERE (status IN ('open', 'acknowledged')
                  OR (status = 'muted' AND muted_until IS NOT NULL AND muted_until <= $at))
             AND last_detected_at >= $since AND first_detected_at <= $at
             AND (len($apps) = 0 OR list_contains($apps, app))
             AND (len($metrics) = 0 OR list_contains($metrics, metric))""",
        {"apps": list(apps), "metrics": list(metrics), "since": since, "at": at},
    )[0]
    return int(row[0]), int(row[1]), row[2]
