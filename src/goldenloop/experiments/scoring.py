"""Reference scorers: each compares one output with the item's expected output and gives a
value in [0, 1] with a pass mark, under a versioned name (the version changes whenever the
scorer's rule does, so scores of different rules are never compared).

- ``exact``: identical text (surrounding whitespace ignored).
- ``normalized``: identical after Unicode NFKC, case folding, punctuation and the articles
  a/an/the removed and whitespace collapsed (the SQuAD answer normalisation).
- ``contains``: the normalised expected text occurs in the normalised output.
- ``json_equal``: both parse as JSON and are equal (key order and whitespace ignored; a
  fenced code block around the output is unwrapped).
- ``json_keys``: the output is a JSON object holding every key of the expected object.
- ``token_f1``: F1 of the normalised tokens (SQuAD); passes at 0.5.
- ``rouge_l``: ROUGE-L F-measure from Google's ``rouge-score`` with stemming; passes at 0.5.
- ``semantic``: cosine of sentence embeddings (the ``[embeddings]`` extra, ``embeddings``);
  passes at 0.4. In the default set when the extra is installed.
- ``sql`` (``sql:PATH``): execution accuracy on a known database (see ``sql_accuracy``).
- ``judge:NAME``: an existing judge, run over the outputs after the calls (``judges``).

A failed call scores 0 on every scorer (a failure is wrong, never missing); an item with no
expected output gets no reference score (NULL, said in the detail).
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from goldenloop.errors import ExperimentError

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation + "“”‘’«»…–—")
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.S)


@dataclass(frozen=True)
class Score:
    value: float | None
    passed: bool | None
    detail: str | None = None


@dataclass(frozen=True)
class Scorer:
    name: str
    version: str
    fn: Callable[[str, str, dict[str, Any]], Score] | None  # None: scored after the run
    pass_mark: float = 1.0

    def score(self, output: str | None, expected: str | None, item: dict[str, Any]) -> Score:
        if output is None:
            return Score(0.0, False, "the call failed")
        if expected is None:
            return Score(None, None, "no expected output")
        return self.fn(output, expected, item)


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _binary(ok: bool, detail: str | None = None) -> Score:
    return Score(1.0 if ok else 0.0, ok, detail)


def exact(output: str, expected: str, item: dict[str, Any]) -> Score:
    return _binary(output.strip() == expected.strip())


def normalized(output: str, expected: str, item: dict[str, Any]) -> Score:
    return _binary(normalize(output) == normalize(expected))


def contains(output: str, expected: str, item: dict[str, Any]) -> Score:
    return _binary(normalize(expected) in normalize(output))


def _json(text: str) -> Any:
    m = _FENCE.match(text)
    return json.loads(m.group(1) if m else text)


def json_equal(output: str, expected: str, item: dict[str, Any]) -> Score:
    try:
        want = _json(expected)
    except json.JSONDecodeError:
        return Score(None, None, "the expected output is not JSON")
    try:
        got = _json(output)
    except json.JSONDecodeError as exc:
        return _binary(False, f"output is not JSON: {exc.msg}")
    return _binary(got == want)


def json_keys(output: str, expected: str, item: dict[str, Any]) -> Score:
    try:
        want = _json(expected)
    except json.JSONDecodeError:
        return Score(None, None, "the expected output is not JSON")
    if not isinstance(want, dict):
        return Score(None, None, "the expected output is not a JSON object")
    try:
        got = _json(output)
    except json.JSONDecodeError as exc:
        return _binary(False, f"output is not JSON: {exc.msg}")
    if not isinstance(got, dict):
        return _binary(False, "output is not a JSON object")
    missing = sorted(set(want) - set(got))
    return _binary(not missing, f"missing keys: {', '.join(missing)}" if missing else None)


def token_f1(output: str, expected: str, item: dict[str, Any]) -> Score:
    got, want = normalize(output).split(), normalize(expected).split()
    if not got or not want:
        f1 = float(got == want)
    else:
        common = sum((Counter(got) & Counter(want)).values())
        if common == 0:
            f1 = 0.0
        else:
            p, r = common / len(got), common / len(want)
            f1 = 2 * p * r / (p + r)
    return Score(f1, f1 >= 0.5)


@cache
def _rouge():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(output: str, expected: str, item: dict[str, Any]) -> Score:
    f = _rouge().score(expected, output)["rougeL"].fmeasure
    return Score(f, f >= 0.5)


def _rouge_version() -> str:
    from importlib.metadata import version

    return f"1+rouge-score{version('rouge-score')}"


LEXICAL: dict[str, tuple[str, Callable[..., Score], float]] = {
    "exact": ("1", exact, 1.0),
    "normalized": ("1", normalized, 1.0),
    "contains": ("1", contains, 1.0),
    "json_equal": ("1", json_equal, 1.0),
    "json_keys": ("1", json_keys, 1.0),
    "token_f1": ("1", token_f1, 0.5),
    "rouge_l": ("", rouge_l, 0.5),
}
DEFAULT = ("exact", "normalized", "contains", "token_f1", "rouge_l")


def defaults() -> tuple[str, ...]:
    """The scorers of a run that names none: the lexical ones, and semantic similarity when
    the embeddings extra is installed."""
    from goldenloop.experiments import embeddings

    return DEFAULT + ((embeddings.NAME,) if embeddings.available() else ())


def get(spec: str, database: str | None = None) -> Scorer:
    """A scorer by name: a lexical one, ``sql`` / ``sql:PATH`` or ``judge:NAME``."""
    name = spec.strip()
    if name == "normalised":
        name = "normalized"
    if name in LEXICAL:
        version, fn, mark = LEXICAL[name]
        return Scorer(name, version or _rouge_version(), fn, mark)
    from goldenloop.experiments import embeddings

    if name in embeddings.ALIASES:
        if not embeddings.available():
            raise ExperimentError(embeddings.MISSING)
        return Scorer(embeddings.NAME, embeddings.version(), embeddings.semantic,
                      embeddings.PASS_MARK)
    if name == "sql" or name.startswith("sql:"):
        from goldenloop.experiments.sql_accuracy import SqlScorer

        path = name[4:] or database
        if not path:
            raise ExperimentError("scorer sql needs a database: give sql:PATH or set "
                                  "`database:` in the target")
        return SqlScorer(path).scorer()
    if name.startswith("judge:") and len(name) > 6:
        return Scorer(name, "judge", None, 0.0)
    known = ", ".join([*LEXICAL, "semantic", "sql[:PATH]", "judge:NAME"])
    raise ExperimentError(f"unknown scorer {spec!r}; known: {known}")


def get_all(specs: list[str] | tuple[str, ...], database: str | None = None) -> list[Scorer]:
    out, seen = [], set()
    for s in specs:
        sc = get(s, database)
        if sc.name not in seen:
            seen.add(sc.name)
            out.append(sc)
    return out
