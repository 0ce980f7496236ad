"""The docs say only what exists: every `goldenloop ...` command they show names a real
command and real options, every `python benchmarks/...` or `scripts/...` option is one the
script reads, every `goldenloop.x.y` name and every import and attribute of the Python
examples resolves, every relative link and anchor points at something that is there, every
repository path they name exists, and they name no host but the loopback.

Commands are checked in-process against the CLI's own definition (the Click command tree
Typer builds), and each command the docs use is run with ``--help`` through Typer's
CliRunner. The checkers are tested on broken samples too, so a docs test that passes means
something.
"""

from __future__ import annotations

import ast
import importlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import typer.main
from typer.testing import CliRunner

from goldenloop.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", ROOT / "benchmarks" / "RESULTS.md",
               *(ROOT / "docs").glob("*.md")])
LOOPBACK = {"127.0.0.1", "localhost"}
# Paths inside the repository that docs may name (others, like data/roles.yaml, are the
# user's files beside their database).
REPO_DIRS = ("src/", "tests/", "benchmarks/", "scripts/", "examples/", "app/", "docs/", ".ci/")

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
PYTHON = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
URL = re.compile(r"\bhttps?://[^\s)>`'\"\]]+")


@dataclass(frozen=True)
class Use:
    doc: str
    line: int
    text: str


# ---- reading the docs -------------------------------------------------------------------

def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _shell_commands(doc: Path) -> list[Use]:
    """`goldenloop ...` lines of fenced blocks (continuations joined, comments dropped)."""
    text, found = doc.read_text(), []
    for block in FENCE.finditer(text):
        joined = block.group(1).replace("\\\n", " ")
        for i, line in enumerate(joined.splitlines()):
            for part in line.split("&&"):  # `pip install -e . && goldenloop serve`
                part = part.strip().removeprefix("$ ")
                if part.startswith("goldenloop ") or part == "goldenloop":
                    found.append(Use(doc.name, _line_of(text, block.start(1)) + i, part))
    return found


def _inline_commands(doc: Path) -> list[Use]:
    """`goldenloop ...` in inline code outside fenced blocks (tables escape | as \\|)."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), doc.read_text())
    return [Use(doc.name, _line_of(text, m.start()), " ".join(m.group(1).split()))
            for m in INLINE.finditer(text) if m.group(1).startswith("goldenloop ")]


def _words(use: Use) -> list[str]:
    text = use.text.replace("\\|", "|").replace("[", " ").replace("]", " ")
    try:
        return shlex.split(text, comments=True)
    except ValueError:  # an apostrophe in prose: plain words are enough to check names
        return text.split("#", 1)[0].split()


# ---- checking a command against the CLI -------------------------------------------------

# Typer builds Click commands (its own copy of Click in recent versions), so commands are
# recognised by shape: a group has ``commands``, an option has ``param_type_name`` "option".
def _is_group(cmd) -> bool:
    return hasattr(cmd, "commands")


def _option_names(cmd) -> set[str]:
    names = {"--help"}
    for p in cmd.params:
        if getattr(p, "param_type_name", "") == "option":
            names.update(p.opts, p.secondary_opts)
    return names


def check_command(root, words: list[str]) -> tuple[list[str], list[str]]:
    """Problems with one `goldenloop ...` command, and the command paths it uses."""
    problems, current, paths = [], [root], [[]]
    for word in words[1:]:
        if word.startswith("-"):
            for alt in word.split("=", 1)[0].split("|"):
                if alt.startswith("-") and not any(alt in _option_names(c) for c in current):
                    problems.append(f"no option {alt} on `goldenloop {' '.join(paths[0])}`")
            continue
        if not all(_is_group(c) for c in current):
            continue  # an argument of a command
        alts = word.split("|")
        missing = [a for a in alts if a not in current[0].commands]
        if missing:
            problems.append(f"no command `goldenloop {' '.join([*paths[0], missing[0]])}`")
            break
        current = [current[0].commands[a] for a in alts]
        paths = [[*paths[0], a] for a in alts]
    return problems, [" ".join(p) for p in paths if p]


def _root():
    return typer.main.get_command(app)


def _all_uses() -> list[Use]:
    return [u for d in DOCS for u in (*_shell_commands(d), *_inline_commands(d))]


def test_the_docs_show_commands() -> None:
    uses = _all_uses()
    assert len(uses) > 100, len(uses)  # the extraction itself works
    assert {u.doc for u in uses} >= {"README.md", "operator.md", "lead.md", "operations.md"}


def test_every_command_in_the_docs_exists_with_its_options() -> None:
    root, problems = _root(), []
    for use in _all_uses():
        found, _ = check_command(root, _words(use))
        problems += [f"{use.doc}:{use.line}: {use.text}: {p}" for p in found]
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_every_command_the_docs_use_answers_help() -> None:
    root, paths = _root(), set()
    for use in _all_uses():
        paths.update(check_command(root, _words(use))[1])
    assert len(paths) > 30, sorted(paths)
    runner = CliRunner()
    failed = []
    for path in sorted(paths):
        result = runner.invoke(app, [*path.split(), "--help"])
        if result.exit_code != 0 or "Usage" not in result.output:
            failed.append(f"goldenloop {path} --help: exit {result.exit_code}\n{result.output}")
    assert not failed, "\n".join(failed)


def test_ci_runs_the_readme_test_command_and_the_readme_starts_the_server() -> None:
    """The README's two commands: CI (.ci/run) runs the second exactly; the first ends by
    starting the server."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Two commands"):].split("\n## ", 1)[0]
    first, second = [b.strip() for b in FENCE.findall(section)][:2]
    assert first.endswith("&& goldenloop serve"), first
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(rf"^exec {re.escape(second)}( -q)?$", ci, re.M), (second, ci)
    assert (ROOT / second.split()[1]).is_file()


# ---- scripts and Python names ------------------------------------------------------------

def script_problems(doc: Path) -> list[str]:
    """`python benchmarks/x.py --opt` / `python scripts/x.py --opt`: the script exists and
    reads that option (its argparse text names it)."""
    problems = []
    text = doc.read_text().replace("\\|", "|")
    for m in re.finditer(r"python3? ((?:benchmarks|scripts)/[\w/]+\.py)([^`\n]*)", text):
        script = ROOT / m.group(1)
        if not script.exists():
            problems.append(f"{doc.name}: no script {m.group(1)}")
            continue
        source = script.read_text()
        for opt in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", m.group(2).split("#")[0]):
            if f'"{opt}"' not in source and f"'{opt}'" not in source:
                problems.append(f"{doc.name}: {m.group(1)} has no option {opt}")
    return problems


def resolve(dotted: str) -> object:
    """``goldenloop.a.b.c``: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


def name_problems(doc: Path) -> list[str]:
    """Inline `goldenloop.x.y` (or `goldenloop.x.f(...)`) names a module or attribute."""
    problems = []
    for span in INLINE.findall(doc.read_text()):
        m = re.match(r"goldenloop(?:\.\s*[A-Za-z_]\w*)+", span)
        if not m or re.search(r"\.(json|duckdb|yaml|md|csv)\b|[<-]", span):
            continue
        name = re.sub(r"\s", "", m.group(0))
        try:
            resolve(name)
        except (ImportError, AttributeError):
            problems.append(f"{doc.name}: no such name {name}")
    return problems


def python_problems(doc: Path) -> list[str]:
    """In the Python examples: what they import from goldenloop exists, and so does every
    attribute they use of it (``judge.edit``, ``ppi.queue_estimate``, ...)."""
    problems = []
    for block in PYTHON.findall(doc.read_text()):
        bound = {}
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("goldenloop"):
                for alias in node.names:
                    try:
                        bound[alias.asname or alias.name] = resolve(f"{node.module}.{alias.name}")
                    except (ImportError, AttributeError):
                        problems.append(f"{doc.name}: cannot import {alias.name} from {node.module}")
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in bound and not hasattr(bound[node.value.id], node.attr):
                problems.append(f"{doc.name}: {node.value.id}.{node.attr} does not exist")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.relative_to(ROOT).as_posix())
def test_scripts_and_python_names(doc: Path) -> None:
    problems = script_problems(doc) + name_problems(doc) + python_problems(doc)
    assert not problems, "\n".join(problems)


# ---- links, paths and hosts ---------------------------------------------------------------

def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    text = FENCE.sub("", doc.read_text())
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def link_problems(doc: Path) -> list[str]:
    text = INLINE.sub("", FENCE.sub("", doc.read_text()))
    problems = []
    for target in LINK.findall(text) + re.findall(r"<(https?://[^>]+)>", text):
        parts = urlsplit(target)
        if parts.scheme:
            if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK:
                problems.append(f"{doc.name}: link outside the machine: {target}")
            continue
        dest = (doc.parent / unquote(parts.path)).resolve() if parts.path else doc
        if not dest.exists():
            problems.append(f"{doc.name}: broken link: {target}")
        elif parts.fragment and dest.suffix == ".md" and parts.fragment not in anchors(dest):
            problems.append(f"{doc.name}: no heading for #{parts.fragment} in {dest.name}")
    return problems


def host_problems(doc: Path) -> list[str]:
    """Any web address, in prose or code, must be the loopback (or a placeholder: …)."""
    problems = []
    for url in URL.findall(doc.read_text()):
        host = urlsplit(url).hostname or ""
        if host not in LOOPBACK and not host.startswith("…"):
            problems.append(f"{doc.name}: host outside the machine: {url}")
    return problems


def path_problems(doc: Path) -> list[str]:
    """Repository paths in inline code (`tests/unit/x.py`, `src/goldenloop/...`) exist."""
    problems = []
    for span in INLINE.findall(doc.read_text()):
        for word in span.split():
            word = word.strip(".,:;()")
            if word.startswith("python"):
                continue
            placeholder = re.search(r"[<>*…{}$]|\.\.\.", word)
            if word.startswith(REPO_DIRS) and not placeholder and \
                    not (ROOT / word.split("::")[0]).exists():
                problems.append(f"{doc.name}: no such path in the repository: {word}")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.relative_to(ROOT).as_posix())
def test_links_paths_and_hosts(doc: Path) -> None:
    problems = link_problems(doc) + host_problems(doc) + path_problems(doc)
    assert not problems, "\n".join(problems)
    assert "/work/" not in doc.read_text()  # no machine paths


def test_every_doc_is_reachable_from_the_readme() -> None:
    seen, todo = set(), [ROOT / "README.md"]
    while todo:
        doc = todo.pop()
        if doc in seen or doc.suffix != ".md" or not doc.exists():
            continue
        seen.add(doc)
        text = FENCE.sub("", doc.read_text())
        todo += [(doc.parent / urlsplit(t).path).resolve() for t in LINK.findall(text)
                 if urlsplit(t).path and not urlsplit(t).scheme]
    assert not set(DOCS) - seen, sorted(str(d) for d in set(DOCS) - seen)


# ---- the checkers catch what they should -------------------------------------------------

def test_the_command_checker_finds_wrong_commands_and_options() -> None:
    root = _root()
    assert check_command(root, ["goldenloop", "judge", "run", "x", "--queue", "3"])[0] == []
    assert check_command(root, ["goldenloop", "nosuch"])[0]
    assert check_command(root, ["goldenloop", "judge", "walk"])[0]
    assert check_command(root, ["goldenloop", "judge", "run", "--no-such-option"])[0]
    assert check_command(root, ["goldenloop", "golden", "build|export|nosuch"])[0]
    assert check_command(root, ["goldenloop", "forget", "--user-id|--nobody-id", "X"])[0]


def test_the_link_and_host_checkers_find_broken_links(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    (tmp_path / "other.md").write_text("# Other page\n\n## A real section\n")
    doc.write_text("[ok](other.md#a-real-section) [gone](missing.md) [bad](other.md#nothing)\n"
                   "[web](https://example.org/x) see http://10.1.2.3:80/ and `tests/nowhere.py`\n")
    problems = link_problems(doc) + host_problems(doc) + path_problems(doc)
    assert len([p for p in problems if "broken link: missing.md" in p]) == 1
    assert any("#nothing" in p for p in problems)
    assert any("example.org" in p for p in problems) and any("10.1.2.3" in p for p in problems)
    assert any("tests/nowhere.py" in p for p in problems)
    assert not any("a-real-section" in p for p in problems)


def test_the_script_and_name_checkers_find_wrong_names(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("`python benchmarks/bench_judge.py --no-such-flag` and `goldenloop.nowhere`, "
                   "`goldenloop.metrics.no_such_function`, `goldenloop.estimation.ppi` (real)\n\n"
                   "```python\nfrom goldenloop.estimation import ppi, no_such_module\n"
                   "ppi.queue_estimate(store, 1)\nppi.no_such_call()\n```\n")
    problems = script_problems(doc) + name_problems(doc) + python_problems(doc)
    assert any("--no-such-flag" in p for p in problems)
    assert any("goldenloop.nowhere" in p for p in problems)
    assert any("no_such_function" in p for p in problems)
    assert any("no_such_module" in p for p in problems)
    assert any("ppi.no_such_call" in p for p in problems)
    assert len(problems) == 5, problems


def test_slugs_follow_github() -> None:
    assert slug("The operator's view") == "the-operators-view"
    assert slug("Receiving OpenTelemetry traces (`goldenloop collect`)") == \
        "receiving-opentelemetry-traces-goldenloop-collect"
    assert slug("Drill-down, traces and conversations") == "drill-down-traces-and-conversations"
