"""Roles are enforced where data is written: every public library function that writes checks
the acting user's role, and each refuses someone whose role does not allow the action.

The first test reads the source (no import runs): it follows calls between goldenloop's
functions, and every public function that reaches ``store.write`` / ``store.transaction``
must also reach ``roles.guard`` or ``roles.require``, unless ``SYSTEM_WRITES`` says why it
writes for nobody. A new write function without the check fails it. The others call each
guarded function as a reviewer (or, for grading, a name with no role) on a real store and
expect PermissionDenied, with nothing written but the refusal in the audit log.
"""

from __future__ import annotations

import ast
import importlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pyarrow as pa
import pytest

from goldenloop.access import roles

SRC = Path(__file__).resolve().parents[2] / "src" / "goldenloop"

# Public functions that write without a person's intent, each with the reason it is exempt.
SYSTEM_WRITES = {
    "goldenloop.access.roles:require": "the check itself (it audits refusals)",
    "goldenloop.access.roles:claim_first_lead": "names the bootstrap lead when no roles file exists",
    "goldenloop.alerts.records:ensure_tables": "creates the alert tables on first use",
    "goldenloop.experiments.schema:ensure_tables": "creates the experiment tables on first use",
    "goldenloop.rubric:sync": "records the rubric files' versions the store must know",
    "goldenloop.rubric:get": "reads a rubric, recording its file's version on first use",
    "goldenloop.workers.jobs:run_job": "job bookkeeping; the job runs as its submitter",
    "goldenloop.workers.submit:submit": "queues a job; its writes are checked when it runs",
    "goldenloop.workers.inbox:process_file": "the owner loads producers' spool files",
    "goldenloop.alerts.engine:check": "the owner's scheduled rule evaluation",
    "goldenloop.alerts.engine:deliver_due": "the owner's notification retries",
    "goldenloop.anomalies.detection:detect": "the owner's scheduled detection",
    "goldenloop.scorers.run:score_spans": "automatic signals of imported spans",
    "goldenloop.scorers.run:moderate_spans": "automatic signals of imported spans",
    "goldenloop.scorers.run:score_job": "automatic signals of imported spans",
    "goldenloop.experiments.canaries:queue_due": "the owner's canary schedule",
    "goldenloop.review.claims:renew": "extends the caller's own claim (next_item checked it)",
    "goldenloop.review.claims:skip": "hands back the caller's own claim",
    "goldenloop.review.claims:later": "hands back the caller's own claim",
    "goldenloop.review.claims:release": "hands back the caller's own claim",
    "goldenloop.argilla_sync.pulling:pull_link": "a step of argilla_sync.pull, which checks",
    "goldenloop.argilla_sync.pulling:take_in": "a step of argilla_sync.pull",
    "goldenloop.argilla_sync.golden_pull:pull_golden_link": "a step of argilla_sync.pull",
    "goldenloop.argilla_sync.golden_pull:make_version": "a step of argilla_sync.pull",
    "goldenloop.experiments.judges:score_with_judge": "a step of experiments.runner.run",
    "goldenloop.experiments.datasets:from_golden": "caches a copy of an immutable golden version",
    "goldenloop.ops.backup:restore": "replaces the file only when no server runs: whoever "
                                     "runs it holds the files already",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _graph() -> tuple[dict, dict]:
    """Per top-level function: (writes directly, checks a role directly, functions called)."""
    trees = {_module_name(p): ast.parse(p.read_text(encoding="utf-8")) for p in SRC.rglob("*.py")}
    funcs = {(m, n.name): n for m, tree in trees.items() for n in tree.body
             if isinstance(n, ast.FunctionDef)}
    facts = {}
    for (module, name), node in funcs.items():
        imported = _imported_names(trees[module], trees)
        writes = checks = False
        calls = set()
        for call in (c for c in ast.walk(node) if isinstance(c, ast.Call)):
            f = call.func
            if isinstance(f, ast.Attribute):
                receiver = ast.unparse(f.value)
                writes |= f.attr in ("write", "transaction") and receiver.endswith("store")
                checks |= f.attr in ("guard", "require") and receiver == "roles"
                target = imported.get(receiver)
                if target and target[1] is None:  # module.function(...)
                    calls.add((target[0], f.attr))
            elif isinstance(f, ast.Name):
                checks |= module == "goldenloop.access.roles" and f.id in ("guard", "require")
                target = imported.get(f.id)
                calls.add((module, f.id) if (module, f.id) in funcs
                          else target if target and target[1] else ("", ""))
        facts[(module, name)] = (writes, checks, {c for c in calls if c in funcs})
    return funcs, facts


def _imported_names(tree: ast.Module, trees: dict) -> dict[str, tuple[str, str | None]]:
    """Local name -> (module, function) or (module, None) for goldenloop imports anywhere in
    the module (imports inside functions included: they are how features load lazily)."""
    out: dict[str, tuple[str, str | None]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("goldenloop"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out[a.asname or a.name] = (sub, None) if sub in trees else (node.module, a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("goldenloop") and a.asname:
                    out[a.asname] = (a.name, None)
    return out


def _reaches(key, which: int, exempt: set, seen: set) -> bool:
    _, facts = _graph()
    if key in seen:
        return False
    seen.add(key)
    return facts[key][which] or any(_reaches(c, which, exempt, seen)
                                    for c in facts[key][2] if c not in exempt)


def _exempt() -> set[tuple[str, str]]:
    return {tuple(k.split(":")) for k in SYSTEM_WRITES}


def _library_writers() -> list[tuple[str, str]]:
    funcs, _ = _graph()
    exempt = _exempt()
    return [k for k in sorted(funcs) if not k[1].startswith("_") and k not in exempt
            and not k[0].startswith("goldenloop.cli") and _reaches(k, 0, exempt, set())]


@pytest.mark.slow
def test_every_public_write_function_checks_a_role() -> None:
    writers = _library_writers()
    assert len(writers) > 40  # the scan sees the library's writers (imports, queues, golden...)
    unchecked = [f"{m}:{n}" for m, n in writers if not _reaches((m, n), 1, _exempt(), set())]
    assert unchecked == [], ("these write without roles.guard/require; add the one-line check "
                             "or, for a write on nobody's behalf, a reason in SYSTEM_WRITES")


def test_every_exemption_names_a_function_that_writes() -> None:
    funcs, _ = _graph()
    for key in SYSTEM_WRITES:
        module, name = key.split(":")
        assert (module, name) in funcs, f"{key} no longer exists: remove it from SYSTEM_WRITES"
        assert _reaches((module, name), 0, set(), set()), \
            f"{key} no longer writes: remove it from SYSTEM_WRITES"


# --- each guarded function refuses ------------------------------------------------------------

def _claim(reviewer: str):
    from goldenloop.review.claims import Claim

    now = datetime.now(UTC).replace(tzinfo=None)
    return Claim(1, 1, 1, reviewer, "span", "t:s", 1, now, now)


def _calls(tmp: Path) -> dict:
    """'module:function' -> a call made as someone its action is refused to. The check comes
    before the arguments are used, so placeholders do."""
    # By module path: several packages re-export a function under their module's name.
    def m(name: str):
        return importlib.import_module(f"goldenloop.{name}")

    golden, rubric, alerts, anomalies = m("golden"), m("rubric"), m("alerts.api"), \
        m("anomalies.records")
    golden_push, pulling, push = m("argilla_sync.golden_push"), m("argilla_sync.pulling"), \
        m("argilla_sync.push")
    canaries, compare, datasets, runner = (m(f"experiments.{n}") for n in
                                           ("canaries", "compare", "datasets", "runner"))
    exclusions, export = m("golden.exclusions"), m("golden.export")
    grade_tables, loader = m("ingest.grade_tables"), m("ingest.loader")
    edit, online, judge_run = m("judge.edit"), m("judge.online"), m("judge.run")
    backup, forget, retention = m("ops.backup"), m("ops.forget"), m("ops.retention")
    asking, claims, gold, queues, submit = (m(f"review.{n}") for n in
                                            ("asking", "claims", "gold", "queues", "submit"))
    comparisons, sampling = m("sampling.comparisons"), m("sampling.queues")

    ben = "ben"  # a reviewer: refused every lead's action
    opts = sampling.QueueOptions(name="q", created_by=ben)
    return {
        "goldenloop.ingest.loader:import_file": lambda s: loader.import_file(s, tmp / "x.csv"),
        "goldenloop.spanstore.ingest:import_file_to_clickhouse":
            lambda s: m("spanstore.ingest").import_file_to_clickhouse(s, None, tmp / "x.csv"),
        "goldenloop.ingest.loader:import_table": lambda s: loader.import_table(
            s, pa.table({"output": ["x"]}), source="t", origin="t"),
        "goldenloop.ingest.grade_tables:import_grades": lambda s: grade_tables.import_grades(
            s, tmp / "g.csv", None, None),
        "goldenloop.judge.run:run": lambda s: judge_run.run(s, None, None),
        "goldenloop.judge.online:configure_online": lambda s: online.configure_online(
            s, "j", 0.5, by=ben),
        "goldenloop.judge.edit:edit": lambda s: edit.edit(s, "v1", {}, ben),
        "goldenloop.judge.edit:use_in_production": lambda s: edit.use_in_production(
            s, "correct", "v1", ben),
        "goldenloop.ops.backup:backup_store": lambda s: backup.backup_store(
            s, tmp / "b.duckdb", actor=ben),
        "goldenloop.ops.forget:forget": lambda s: forget.forget(s, "user_id", "u1",
                                                                requested_by=ben),
        "goldenloop.ops.retention:set_policy": lambda s: retention.set_policy(s, "a", 5, ben),
        "goldenloop.ops.retention:clear_policy": lambda s: retention.clear_policy(s, "a", ben),
        "goldenloop.ops.retention:run": lambda s: retention.run(s),
        "goldenloop.alerts.api:put_rule": lambda s: alerts.put_rule(s, None, ben),
        "goldenloop.alerts.api:remove_rule": lambda s: alerts.remove_rule(s, "r", ben),
        "goldenloop.alerts.api:load_and_sync": lambda s: alerts.load_and_sync(
            s, tmp / "alerts.yaml"),
        "goldenloop.anomalies.records:set_status": lambda s: anomalies.set_status(
            s, 1, "acknowledged", by=ben),
        "goldenloop.experiments.canaries:save": lambda s: canaries.save(s, None, by=ben),
        "goldenloop.experiments.canaries:remove": lambda s: canaries.remove(s, "c"),
        "goldenloop.experiments.datasets:import_file": lambda s: datasets.import_file(
            s, "t", tmp / "t.jsonl", by=ben),
        "goldenloop.experiments.runner:run": lambda s: runner.run(s, None, None),
        "goldenloop.experiments.compare:mark_baseline": lambda s: compare.mark_baseline(s, 1),
        "goldenloop.argilla_sync.push:push_queue": lambda s: push.push_queue(s, 1, pushed_by=ben),
        "goldenloop.argilla_sync.golden_push:push_golden": lambda s: golden_push.push_golden(
            s, "g", pushed_by=ben),
        "goldenloop.argilla_sync.pulling:pull": lambda s: pulling.pull(s, ben, queue_id=1),
        "goldenloop.argilla_sync.erase:erase_pending": lambda s: m(
            "argilla_sync.erase").erase_pending(s, ben),
        "goldenloop.golden.build:build": lambda s: golden.build(s, "g", None, author=ben),
        "goldenloop.golden.export:export": lambda s: export.export(s, "g", tmp / "o", author=ben),
        "goldenloop.golden.exclusions:exclude": lambda s: exclusions.exclude(
            s, "g", "r", "why", author=ben),
        "goldenloop.golden.exclusions:restore": lambda s: exclusions.restore(
            s, "g", "r", "why", author=ben),
        "goldenloop.rubric:save_edit": lambda s: rubric.save_edit(s, None, ben),
        "goldenloop.review.asking:set_criteria": lambda s: asking.set_criteria(s, 1, ["c"], ben),
        "goldenloop.review.gold:add_gold": lambda s: gold.add_gold(s, 1, "span", "t:s", {}, ben),
        "goldenloop.review.queues:close_queue": lambda s: queues.close_queue(s, 1, ben),
        "goldenloop.sampling.queues:create_queue": lambda s: sampling.create_queue(
            s, opts, None, m("sampling.designs").Uniform(n=5)),
        "goldenloop.sampling.queues:create_hand_queue": lambda s: sampling.create_hand_queue(
            s, opts, span_keys=[1]),
        "goldenloop.sampling.queues:add_to_queue": lambda s: sampling.add_to_queue(s, 1, [1], ben),
        "goldenloop.sampling.comparisons:create_version_comparison":
            lambda s: comparisons.create_version_comparison(s, opts, None, "a", "b", 1),
        "goldenloop.sampling.comparisons:create_pair_queue":
            lambda s: comparisons.create_pair_queue(s, opts, [None]),
        # Grading is every reviewer's: refused to a name with no role.
        "goldenloop.review.claims:next_item": lambda s: claims.next_item(s, 1, "eve"),
        "goldenloop.review.submit:undo": lambda s: submit.undo(s, 1, "eve"),
        "goldenloop.review.submit:submit": lambda s: submit.submit(s, _claim("eve"), {}),
        "goldenloop.review.submit:submit_and_next": lambda s: submit.submit_and_next(
            s, _claim("eve"), {}),
        "goldenloop.access.roles:change": lambda s: roles.change(s, ben, [ben], None),
    }


def test_every_function_that_checks_a_role_is_called_below(tmp_path: Path) -> None:
    """A function given the check gets a case here, so its refusal is exercised too."""
    _, facts = _graph()
    checking = {f"{m}:{n}" for (m, n) in _library_writers()
                if facts[(m, n)][1] and m != "goldenloop.access.roles"}
    assert checking - set(_calls(tmp_path)) == set()


@pytest.fixture
def guarded_store(store):
    (Path(store.path).parent / "roles.yaml").write_text("leads: [lia]\nreviewers: [ben]\n")
    return store


@pytest.mark.slow
def test_each_guarded_write_refuses_and_writes_nothing(guarded_store, tmp_path: Path) -> None:
    store = guarded_store
    tables = ["spans", "grades", "import_log", "jobs"]
    before = {t: store.scalar(f"SELECT count(*) FROM {t}") for t in tables}
    cases = _calls(tmp_path)
    let_through = []
    for key, call in cases.items():
        with roles.acting("ben"):  # functions without a name parameter act as the edge's user
            try:
                call(store)
            except roles.PermissionDenied:
                continue
        let_through.append(key)
    assert let_through == []
    assert {t: store.scalar(f"SELECT count(*) FROM {t}") for t in tables} == before
    denied = store.rows("SELECT actor, target FROM audit_log WHERE action = 'access.denied'")
    assert len(denied) == len(cases)
    assert {a for a, _ in denied} == {"ben", "eve"}


@pytest.mark.slow
def test_the_acting_user_decides_for_functions_without_a_name(guarded_store,
                                                              tmp_path: Path) -> None:
    store = guarded_store
    csv = tmp_path / "calls.csv"
    csv.write_text("timestamp,model,response\n2025-05-01T10:00:00Z,m,hello\n")
    with roles.acting(""), pytest.raises(roles.PermissionDenied, match="without a name"):
        loader_import(store, csv)  # an edge with nobody named (an anonymous visitor)
    with roles.acting("ben"), pytest.raises(roles.PermissionDenied, match="ben may not import"):
        loader_import(store, csv)
    assert store.scalar("SELECT count(*) FROM spans") == 0
    with roles.acting("lia"):
        assert loader_import(store, csv).imported == 1
    # The audit log names the person the import was made for, not only the interface.
    assert store.rows("SELECT actor FROM audit_log WHERE action = 'import'") == [("lia",)]
    assert roles.actor() is None  # the context ends with the block
    # No edge in front (a script that opened the file itself): nobody to refuse.
    csv.write_text("timestamp,model,response\n2025-05-01T10:00:01Z,m,again\n")
    assert loader_import(store, csv).imported == 1


def test_a_job_runs_as_its_submitter(guarded_store, tmp_path: Path) -> None:
    from goldenloop.ops.jobs import HANDLERS
    from goldenloop.store import jobs as job_sql
    from goldenloop.workers.jobs import run_job
    from goldenloop.workers.kinds import RetentionJob
    from goldenloop.workers.submit import submit

    store = guarded_store
    for who, status in (("ben", "failed"), ("lia", "done")):
        with roles.acting(who):  # the app page that submitted it
            sent = submit(RetentionJob.of(), store=store, serving=True, origin="app")
        job = next(j for j in store.write(lambda cur: [job_sql.claim_next(cur)]) if j)
        assert job.job_id == sent.job_id and job.params["submitted_by"] == who
        run_job(store, job, HANDLERS)
        assert store.scalar("SELECT status FROM jobs WHERE job_id = ?", [job.job_id]) == status
    assert "ben may not operate" in store.scalar(
        "SELECT error FROM jobs WHERE job_id = ?", [sent.job_id - 1])


def loader_import(store, path: Path):
    from goldenloop.ingest import loader

    return loader.import_file(store, path)
