"""The dataset card written beside every export (``README.md``, Markdown, as Hugging Face
expects): purpose, counts, label balance, sources, filters, version and hash.

Values that come from the data (labels, app names, reviewer names) are written inside code
spans, so a label cannot turn into a link or an image when the card is rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from goldenloop.golden.filters import SOURCES
from goldenloop.golden.openai_format import MIN_EXAMPLES, RowProblem
from goldenloop.golden.versions import Version

FORMAT_NOTES = {
    "jsonl": "every column, one JSON object per line",
    "csv": "every column; text cells starting with = + - @ (or a tab or carriage return) are "
           "prefixed with ' so spreadsheets do not run them as formulas",
    "parquet": "every column",
    "openai_chat": "OpenAI fine-tuning chat format: one {\"messages\": [...]} per line; the "
                   "reviewed answer is the last assistant message (weight 1), earlier "
                   "assistant turns have weight 0",
    "openai_evals": "OpenAI evals: {\"input\": [messages], \"ideal\": expected output}",
    "hf": "Hugging Face datasets folder: datasets.load_from_disk(path)",
}
SOURCE_NOTES = {
    "correction": "a reviewer's corrected answer",
    "graded_output": "the production answer, graded correct",
    "preferred_output": "the answer preferred in a pairwise comparison",
}


def _code(value: object) -> str:
    text = str(value).replace("`", "'").replace("\n", " ")
    return f"`{text}`"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def _derived(c: dict) -> list[str]:
    """The provenance line of a version derived from a reviewed earlier one (golden.derive)."""
    d = c.get("derived_from")
    if not d:
        return []
    where = (f", reviewed in Argilla dataset {_code(d['argilla_dataset'])} (workspace "
             f"{_code(d.get('workspace', ''))}): {d.get('responses', 0):,} responses"
             if d.get("argilla_dataset") else "")
    return [f"- derived from version {d['version']} (`{d.get('content_hash', '')[:12]}`){where}"]


def _curation(c: dict) -> list[str]:
    """Duplicates merged, rows a curator excluded (with their reasons) and the split."""
    lines = []
    if "duplicates_merged" in c:
        lines.append(f"- duplicate inputs merged (normalised text, the best-supported row "
                     f"kept): {c['duplicates_merged']:,}")
    excl = c.get("exclusions") or []
    if excl:
        lines.append(f"- rows excluded by a curator: {len(excl):,}")
        lines += [f"  - {_code(e['row_key'])} by {_code(e['by'])} at {e['at']}: "
                  f"{_code(e['reason'])}" for e in excl[:50]]
        if len(excl) > 50:
            lines.append(f"  - ... and {len(excl) - 50:,} more (the version's counts list all)")
    sp = c.get("split")
    if sp:
        lines.append(f"- split by session (no conversation in two parts), seed {sp['seed']}:")
        lines += [f"  - {part}: {sp['rows'].get(part, 0):,} rows, "
                  f"{sp['sessions'].get(part, 0):,} sessions (share {sp['shares'][part]:.0%})"
                  for part in ("train", "validation", "test")]
        lines.append("  - every format carries it: the `split` column, or one OpenAI file "
                     "per part")
    return ["", "## Curation", "", *lines] if lines else []


def render(v: Version, files: dict[str, str], written: dict[str, int],
           problems: Sequence[RowProblem]) -> str:
    c = v.counts
    lines = [
        "---", f"pretty_name: {v.dataset}", "tags: [golden-dataset, goldenloop]", "---", "",
        f"# {v.dataset}, version {v.version}", "",
        v.description or "A golden dataset of graded production answers.", "",
        "## Purpose", "",
        "Production answers that reviewers graded (and corrected) for the criterion "
        f"{_code(v.filter.criterion)}: expected outputs for regression tests, judge "
        "calibration and fine-tuning.", "",
        "## Version", "",
        f"- version: {v.version}", f"- content hash (sha256): `{v.content_hash}`",
        f"- author: {_code(v.author)}", f"- created: {v.created_at:%Y-%m-%d %H:%M} UTC",
        f"- source of truth: {SOURCES[v.filter.source]}", *_derived(c), "",
        "## Counts", "",
        f"- graded targets considered: {c.get('considered', 0):,}",
        f"- rows: {v.rows:,}",
    ]
    for reason, n in c.get("left_out", {}).items():
        # A condition's reason names its criterion, which comes from the data.
        lines.append(f"- left out, {_code(reason) if ':' in reason else reason}: {n:,}")
    lines += _curation(c)
    lines += ["", "## Label balance", ""]
    total = sum(v.label_balance.values()) or 1
    lines += _table(["label", "rows", "share"],
                    [(_code(k), f"{n:,}", f"{n / total:.1%}") for k, n in v.label_balance.items()])
    lines += ["", "## Sources of the expected output", ""]
    lines += [f"- {SOURCE_NOTES.get(s, s)}: {n:,}" for s, n in c.get("expected_sources", {}).items()]
    lines += ["", "## Filters", ""] + [f"- {_code(line)}" for line in v.filter.describe()]
    lines += ["", "## Files", ""]
    lines += _table(["format", "file", "rows", "what"],
                    [(k, f"`{files[k]}`", f"{written.get(k, 0):,}", FORMAT_NOTES[k])
                     for k in files])
    if "openai_chat" in files and written.get("openai_chat", 0) < MIN_EXAMPLES:
        lines += ["", f"Note: OpenAI fine-tuning needs at least {MIN_EXAMPLES} examples; this "
                      f"file has {written.get('openai_chat', 0)}."]
    if problems:
        lines += ["", "## Rows left out of a format", "",
                  f"{len(problems):,} (all listed in `problems.jsonl`); the first:", ""]
        lines += [f"- {_code(p)}" for p in problems[:20]]
    lines += ["", "## Provenance columns", "",
              "Each row names its source span and trace (`span_key`, `trace_id`, `span_id`, "
              "`session_id`), the reviewers and their grades (`reviewers`, `human_grades`), the "
              "rubric version, the judge grades and judge versions (`judge_grades`, "
              "`judge_versions`, `judge_agrees`), the agreement level (`agreement_level`, "
              "`human_agreement`) and the review queue's inclusion probability "
              "(`inclusion_prob`; empty when the target was not sampled). `row_key` is stable "
              "across versions.", ""]
    return "\n".join(lines)


def write(folder: Path, text: str) -> Path:
    path = folder / "README.md"
    tmp = folder / ".README.md.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
