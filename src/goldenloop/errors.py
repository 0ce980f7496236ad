"""Named errors of the library. The CLI and the pages turn them into messages once, at the edge."""

from __future__ import annotations


class GoldenloopError(Exception):
    """Base class: anything the user can fix gets one of these, with a message that says how."""


class StoreLockedError(GoldenloopError):
    """Another process holds the database file."""

    def __init__(self, path: str, pid: int | None, command: str | None):
        self.path, self.pid, self.command = path, pid, command
        who = f"process {pid}" if pid else "another process"
        if command:
            who += f" ({command})"
        super().__init__(
            f"{path} is held by {who}. Only one process may open the database: "
            "stop it, or let it do the work (commands queue jobs for a running `goldenloop serve`)."
        )


class SchemaTooNewError(GoldenloopError):
    """The database was written by a newer goldenloop."""


class FilterError(GoldenloopError):
    """A filter (of spans, or of a golden set's graded targets) that cannot select anything
    sensible: an inverted time range, an unknown field or mode, an unusable value."""


class ImportFileError(GoldenloopError):
    """A whole file cannot be read (missing, unknown format, unreadable header)."""


class MappingError(GoldenloopError):
    """A column mapping names a field or column that does not exist."""


class JobError(GoldenloopError):
    """A job cannot be created or run."""


class StoreUnavailableError(GoldenloopError):
    """The store stopped accepting writes after a storage failure (the disk is full, or DuckDB
    invalidated the database after a failed write); the owner reopens it when space returns."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(
            f"the database is not accepting writes: {reason}. Free disk space beside the "
            "database: a running server then reopens it and retries what failed on its own; "
            "a command, run it again."
        )


class AnomalyError(GoldenloopError):
    """A detection request or an anomaly status change that cannot be done as asked."""


class AnomalyNotFoundError(AnomalyError):
    """No anomaly has the given id."""


class ExperimentError(GoldenloopError):
    """A test set, target, run, scorer, comparison or canary suite that cannot be used as
    asked (a bad file, an unknown name, a run on another test set, ...)."""


class SpanStoreError(GoldenloopError):
    """The span store cannot be opened or used as configured (bad URL, missing client
    library, unreachable server, a table written by another schema)."""


class QueueNotFound(GoldenloopError):
    """No review queue (or queue item) with that id."""
