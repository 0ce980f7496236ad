"""Typed jobs: one pydantic model per job kind the owner runs, checked when a job is made and
again when it is read back (the jobs table, a job file in the inbox).

The stored form is unchanged: ``{"kind": ..., "params": {...}, "origin": ...}``, the params
being the model's fields that were set, so jobs queued by an earlier version read back as
they were written. Handlers still receive those params as a dict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from goldenloop.errors import JobError


class JobSpec(BaseModel):
    """One job's parameters; ``kind`` names the handler that runs it."""

    kind: ClassVar[str] = ""
    # Unknown keys are refused: a misspelt parameter would otherwise be ignored silently.
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Who asked (the acting user when it was submitted): the job runs as them, so the library
    # checks their role as if they had called it (access.roles.guard). None: nobody named.
    submitted_by: str | None = Field(default=None, max_length=200)

    @classmethod
    def of(cls, **fields: Any) -> Any:
        """The job of this kind, or a ``JobError`` naming each bad field (never a pydantic
        traceback at a command line or on a page)."""
        return parse_job(cls.kind, fields, f"{cls.kind} job")

    def params(self) -> dict[str, Any]:
        """The stored form: only the fields the creator set, as JSON values."""
        return self.model_dump(mode="json", exclude_unset=True)


class ImportJob(JobSpec):
    kind: ClassVar[str] = "import"
    files: list[str]
    format: str | None = None
    mapping: dict[str, Any] | None = None
    redact: bool = False
    origin: str = "job"
    batch_input: str | None = None
    encoding: str | None = None
    # What makes each request its own job file (cli_support.job_identity).
    request: str | None = None
    seen: list[dict[str, Any]] | None = None


class DemoJob(JobSpec):
    kind: ClassVar[str] = "demo"
    spans: int = Field(200_000, ge=1)
    seed: int = 7


class SnapshotJob(JobSpec):
    kind: ClassVar[str] = "snapshot"
    dest: str


class ScoreJob(JobSpec):
    kind: ClassVar[str] = "score"
    rescore: bool = False
    moderation_config: str | None = None


class JudgeJob(JobSpec):
    """A judge over a queue, a frame (all or a sample), given spans, the human-graded items or
    a version's disagreements (judge.jobs.selection_of)."""

    kind: ClassVar[str] = "judge"
    judge: str
    judge_version: str | None = None
    queue_id: int | None = None
    frame: dict[str, Any] | None = None
    sample: int | None = Field(None, ge=1)
    seed: int | None = None
    span_keys: list[int] | None = None
    inclusion_prob: float | None = None
    human_graded: bool = False
    disagreements_of: str | None = None
    budget_usd: float | None = Field(None, ge=0)
    concurrency: int | None = Field(None, ge=1)
    use_cache: bool = True
    redact: bool | None = None
    origin: str | None = None


class JudgeOnlineJob(JobSpec):
    kind: ClassVar[str] = "judge_online"


class JudgeConfigureJob(JobSpec):
    kind: ClassVar[str] = "judge_configure"
    judge: str
    fraction: float | None = Field(None, gt=0, le=1)
    budget_usd: float | None = Field(None, ge=0)
    enabled: bool = True
    by: str | None = None  # who asked: the library checks their role


class GoldenJob(JobSpec):
    """Build a golden version (``build_only``) or build and export it to ``out``."""

    kind: ClassVar[str] = "golden"
    name: str
    filter: dict[str, Any]
    author: str
    description: str = ""
    build_only: bool = False
    out: str | None = None
    formats: list[str] | None = None

    @model_validator(mode="after")
    def _export_needs_folder(self) -> GoldenJob:
        if not self.build_only and not self.out:
            raise ValueError("out: an export needs a folder (or build_only)")
        return self


class AlertsCheckJob(JobSpec):
    kind: ClassVar[str] = "alerts_check"
    alerts_file: str | None = None
    at: datetime | None = None


class DetectJob(JobSpec):
    kind: ClassVar[str] = "detect"
    since: datetime | None = None
    until: datetime | None = None
    sensitivity: str | None = None


class ExperimentRunJob(JobSpec):
    kind: ClassVar[str] = "experiment_run"
    target: str
    dataset: str = Field(min_length=1)
    scorers: list[str] | None = None
    concurrency: int | None = Field(None, ge=1)
    budget_usd: float | None = Field(None, ge=0)
    baseline: bool = False
    source: str | None = None
    suite: str | None = None


class ExperimentImportJob(JobSpec):
    kind: ClassVar[str] = "experiment_import"
    name: str
    file: str
    by: str | None = None  # who asked: the library checks their role


class ExperimentBaselineJob(JobSpec):
    kind: ClassVar[str] = "experiment_baseline"
    run_id: int


class CanarySaveJob(JobSpec):
    """A whole canary suite (experiments.canaries.Suite), checked by the suite's own model."""

    kind: ClassVar[str] = "canary_save"
    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _suite(cls, data: Any) -> Any:
        from goldenloop.experiments import canaries

        try:  # who submitted it is the job's, not the suite's (JobSpec.submitted_by)
            canaries.parse({k: v for k, v in data.items() if k != "submitted_by"}
                           if isinstance(data, dict) else data)
        except Exception as exc:  # the suite's own message names the field
            raise ValueError(str(exc)) from None
        return data


class CanaryRunJob(JobSpec):
    kind: ClassVar[str] = "canary_run"
    suite: str


class CanaryRemoveJob(JobSpec):
    kind: ClassVar[str] = "canary_remove"
    suite: str


class ArgillaPushJob(JobSpec):
    """A review queue (``queue_id``) or a golden version (``golden``: NAME@VERSION)."""

    kind: ClassVar[str] = "argilla_push"
    queue_id: int | None = None
    golden: str | None = None
    author: str
    dataset: str | None = None
    workspace: str = "argilla"
    suggestions: bool | None = None
    reviewers: int | None = Field(None, ge=1)
    url_env: str | None = None
    key_env: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ArgillaPushJob:
        if (self.queue_id is None) == (self.golden is None):
            raise ValueError("name one of queue_id or golden")
        return self


class ArgillaPullJob(JobSpec):
    kind: ClassVar[str] = "argilla_pull"
    queue_id: int | None = None
    golden: str | None = None
    author: str | None = None


class BackupJob(JobSpec):
    kind: ClassVar[str] = "backup"
    dest: str
    request: str | None = None
    by: str | None = None  # who asked: the library checks their role


class ForgetJob(JobSpec):
    kind: ClassVar[str] = "forget"
    selector: str
    value: str
    by: str | None = None  # who asked: the library checks their role
    erasure_id: str | None = None


class RetentionJob(JobSpec):
    """Set (``set``, ``app``, ``days``) or clear (``clear``, ``app``) a policy, or run it."""

    kind: ClassVar[str] = "retention"
    set: bool = False
    clear: bool = False
    app: str | None = None
    days: int | None = Field(None, ge=1)
    by: str | None = None  # who asked: the library checks their role

    @model_validator(mode="after")
    def _policy(self) -> RetentionJob:
        if self.set and (self.app is None or self.days is None):
            raise ValueError("set: a policy needs app and days")
        if self.clear and self.app is None:
            raise ValueError("clear: name the app")
        return self


JOB_TYPES: dict[str, type[JobSpec]] = {t.kind: t for t in (
    ImportJob, DemoJob, SnapshotJob, ScoreJob, JudgeJob, JudgeOnlineJob, JudgeConfigureJob,
    GoldenJob, AlertsCheckJob, DetectJob, ExperimentRunJob, ExperimentImportJob,
    ExperimentBaselineJob, CanarySaveJob, CanaryRunJob, CanaryRemoveJob, ArgillaPushJob,
    ArgillaPullJob, BackupJob, ForgetJob, RetentionJob,
)}


def parse_job(kind: str, params: Any, where: str = "job") -> JobSpec:
    """The typed job for stored ``kind`` and ``params``; a ``JobError`` naming ``where`` (a
    job file, a job id), the kind and each bad field otherwise."""
    cls = JOB_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise JobError(f"{where}: unknown job kind {kind!r} (known: {', '.join(sorted(JOB_TYPES))})")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise JobError(f"{where}: {kind} job: params must be an object, not {type(params).__name__}")
    try:
        return cls.model_validate(params)
    except ValidationError as exc:
        raise JobError(f"{where}: {kind} job: " + "; ".join(
            f"field {'.'.join(str(p) for p in e['loc']) or '(params)'}: "
            f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())) from None
