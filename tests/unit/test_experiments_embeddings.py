"""Semantic similarity (the ``[embeddings]`` extra): the model shipped in the package ranks our
rated sentence pairs like a person does (checked with scipy's Spearman and a pairwise AUC
computed here), the scorer's cosine equals the package's own similarity, a run scores a
paraphrase as similar where exact match fails, and without the extra the scorer says how to
get it and a run says it used the lexical scorers only."""

from __future__ import annotations

import json

import numpy as np
import pytest
from openai_loopback import Reply, openai_server
from scipy import stats
from similarity_pairs import PAIRS

from goldenloop.errors import ExperimentError
from goldenloop.experiments import datasets, embeddings, runner, scoring, targets

needs_extra = pytest.mark.skipif(not embeddings.available(),
                                 reason="the embeddings extra is not installed "
                                        "(pip install 'goldenloop[embeddings]')")


@needs_extra
def test_the_model_ranks_rated_pairs_like_a_person():
    model = embeddings.model()
    cos = np.array([model.similarity(a, b) for a, b, _ in PAIRS])
    rating = np.array([r for *_, r in PAIRS])
    assert stats.spearmanr(cos, rating).statistic >= 0.7
    para, unrelated = cos[rating == 5], cos[rating == 0]
    assert np.mean(para[:, None] > unrelated[None, :]) >= 0.95
    # the pass mark splits "same meaning" from "different claim" on most pairs
    same, other = cos[rating >= 4] >= embeddings.PASS_MARK, cos[rating <= 2] < embeddings.PASS_MARK
    assert (same.sum() + other.sum()) / (same.size + other.size) >= 0.85


@needs_extra
def test_the_scorers_cosine_is_the_packages_own_similarity():
    from importlib import resources

    from safetensors import safe_open
    from tokenizers import Tokenizer
    from wordllama.inference import WordLlamaInference

    root = resources.files("wordllama")
    with safe_open(str(root / "weights" / "l2_supercat_256.safetensors"), "np") as f:
        wl = WordLlamaInference(f.get_tensor("embedding.weight"), Tokenizer.from_file(
            str(root / "tokenizers" / "l2_supercat_tokenizer_config.json")))
    sc = scoring.get("semantic")
    assert sc.version.startswith("1+wordllama") and sc.pass_mark == embeddings.PASS_MARK
    for a, b, _ in PAIRS[::7]:
        got = sc.score(a, b, {})
        assert got.value == pytest.approx(max(0.0, float(wl.similarity(a, b))), abs=1e-5)
        assert got.passed == (got.value >= embeddings.PASS_MARK)
    assert sc.score("", "", {}).value == 1.0 and sc.score("x", " ", {}).passed is False
    assert scoring.get("similarity").name == "semantic"


@needs_extra
@pytest.mark.slow
def test_a_run_scores_paraphrases_as_similar_by_default(store, tmp_path):
    answers = {"0": "We will send out your package tomorrow.",
               "1": "Penguins cannot fly."}

    def script(body):
        return Reply(content=answers[body["messages"][-1]["content"]])

    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps({"id": k, "input": k,
                                          "expected": "Your order ships tomorrow."})
                              for k in answers) + "\n")
    ds = datasets.import_file(store, "ship", path).dataset
    with openai_server(script) as srv:
        t = targets.Target(spec=targets.parse({"name": "bot", "model": "gpt-4o-mini",
                                               "endpoint": {"base_url": srv.base_url}}, "b.yaml"))
        res = runner.run(store, t, ds)  # no scorers named: the defaults, semantic included
    assert res.note is None
    rows = dict(store.rows("SELECT item_key || ':' || scorer, passed FROM experiment_scores "
                           "WHERE scorer IN ('exact', 'semantic')"))
    assert rows == {"0:exact": False, "0:semantic": True, "1:exact": False,
                    "1:semantic": False}


@pytest.mark.slow
def test_without_the_extra_the_scorer_says_how_to_get_it(store, tmp_path, monkeypatch):
    monkeypatch.setattr(embeddings, "available", lambda: False)
    with pytest.raises(ExperimentError, match=r"pip install 'goldenloop\[embeddings\]'"):
        scoring.get("semantic")
    assert scoring.defaults() == scoring.DEFAULT
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"id": "1", "input": "hi", "expected": "hello"}) + "\n")
    ds = datasets.import_file(store, "one", path).dataset
    with openai_server(lambda body: Reply(content="hello")) as srv:
        t = targets.Target(spec=targets.parse({"name": "bot", "model": "gpt-4o-mini",
                                               "endpoint": {"base_url": srv.base_url}}, "b.yaml"))
        res = runner.run(store, t, ds)
    assert "lexical scorers only" in res.summary
    assert store.scalar("SELECT count(DISTINCT scorer) FROM experiment_scores") == len(
        scoring.DEFAULT)
    assert "lexical scorers only" in store.scalar("SELECT message FROM experiment_runs")
