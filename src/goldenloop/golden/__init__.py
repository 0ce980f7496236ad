"""Golden datasets: versioned exports of graded production data, with provenance.

Build a dataset from a filter over graded targets (``preview``, ``build``), read its
immutable versions (``versions``, ``get_version``, ``diff``) and write them out in every
format with a dataset card (``export``). Curation for retraining (a ``Condition`` on
another criterion, the evidence behind a row, de-duplication and the split) is part of the
filter; rows are excluded and restored with ``exclude`` / ``restore``.
"""

from goldenloop.golden.build import BuildResult, Preview, build, preview, resolve
from goldenloop.golden.curation import SPLITS, Condition
from goldenloop.golden.exclusions import exclude, excluded, restore
from goldenloop.golden.export import FORMATS, ExportPathError, ExportResult, export, zip_folder
from goldenloop.golden.filters import (
    ADJUDICATED,
    CONSENSUS,
    HUMAN,
    HUMAN_JUDGE,
    SOURCES,
    FilterError,
    GoldenError,
    GoldenFilter,
)
from goldenloop.golden.options import Options, options
from goldenloop.golden.publish import PublishResult, golden_job, publish
from goldenloop.golden.versions import (
    DatasetNotFound,
    Diff,
    Version,
    counts,
    datasets,
    diff,
    get_version,
    rows,
    versions,
)

__all__ = [
    "ADJUDICATED",
    "CONSENSUS",
    "FORMATS",
    "HUMAN",
    "HUMAN_JUDGE",
    "SOURCES",
    "SPLITS",
    "BuildResult",
    "Condition",
    "DatasetNotFound",
    "Diff",
    "ExportPathError",
    "ExportResult",
    "FilterError",
    "GoldenError",
    "GoldenFilter",
    "Options",
    "Preview",
    "PublishResult",
    "Version",
    "build",
    "counts",
    "datasets",
    "diff",
    "exclude",
    "excluded",
    "export",
    "get_version",
    "golden_job",
    "options",
    "preview",
    "publish",
    "resolve",
    "restore",
    "rows",
    "versions",
    "zip_folder",
]
