"""Semantic similarity of an answer to the expected output: the cosine of sentence embeddings
from a model shipped inside an installed package, so nothing is downloaded at run time. It is
the optional extra ``pip install 'goldenloop[embeddings]'``; without it the ``semantic``
scorer says so and the lexical scorers are used.

The model is WordLlama's ``l2_supercat`` (package ``wordllama``): static token embeddings of
256 dimensions, averaged over the text and normalised, with its own tokenizer, both inside
the package (about 65 MB installed with its dependencies, numpy only at run time). It was
chosen over all-MiniLM-L6-v2 through sentence-transformers on CPU-only torch by measurement
(docs/experiments.md, "Semantic similarity"): close on our rated sentence pairs, about 70
times faster on two cores, and 1.6 GB less to install. Its files are opened directly: the
package's own loader looks for the tokenizer in a folder the wheel does not have and would
then try to download it.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import metadata, resources
from typing import Any

import numpy as np

from goldenloop.errors import ExperimentError

NAME = "semantic"
ALIASES = ("semantic", "similarity", "embedding")
MODEL = "l2_supercat_256"
# Cosine at which an answer counts as saying the same as the expected output: on our rated
# pairs (tests/similarity_pairs.py) the cut between "same meaning" (rated 4-5) and "same
# topic, different claim" or less (rated 0-2) with the fewest mistakes (5 of 56 pairs, at any
# cut from 0.375 to 0.425); see docs/experiments.md.
PASS_MARK = 0.4
MISSING = ("scorer semantic needs the embeddings extra: pip install 'goldenloop[embeddings]' "
           "(without it, the lexical scorers are used)")
_lock = threading.Lock()


def available() -> bool:
    """Whether the extra is installed (the package is found; nothing is loaded)."""
    try:
        metadata.version("wordllama")
    except metadata.PackageNotFoundError:
        return False
    return True


def version() -> str:
    """The scorer's version: its rule, the package's version and the model."""
    return f"1+wordllama{metadata.version('wordllama')}-{MODEL}"


class Embedder:
    """Texts to unit vectors, through the package's own inference (token lookup and mean
    pooling); thread-safe, since the tokenizer and the weights are only read."""

    def __init__(self) -> None:
        from safetensors import safe_open
        from tokenizers import Tokenizer
        from wordllama.inference import WordLlamaInference

        root = resources.files("wordllama")
        with safe_open(str(root / "weights" / f"{MODEL}.safetensors"), "np") as f:
            weights = f.get_tensor("embedding.weight")
        tokenizer = Tokenizer.from_file(str(root / "tokenizers" /
                                            "l2_supercat_tokenizer_config.json"))
        self._wl = WordLlamaInference(weights, tokenizer)

    def encode(self, texts: list[str]) -> np.ndarray:
        """One unit vector per text (texts must hold at least one token)."""
        return self._wl.embed(list(texts), norm=True)

    def similarity(self, a: str, b: str) -> float:
        va, vb = self.encode([a, b])
        return float(va @ vb)


@cache
def _model() -> Embedder:
    if not available():
        raise ExperimentError(MISSING)
    try:
        return Embedder()
    except (OSError, ImportError, KeyError) as exc:  # a broken install: say which
        raise ExperimentError(f"the embeddings extra is installed but its model cannot be "
                              f"loaded: {exc}") from None


def model() -> Embedder:
    """The embedder, loaded once per process (about 0.1 s)."""
    with _lock:
        return _model()


def semantic(output: str, expected: str, item: dict[str, Any]):
    """The cosine of the two texts' embeddings, below 0 counted as 0."""
    from goldenloop.experiments.scoring import Score

    if not output.strip() or not expected.strip():
        same = output.strip() == expected.strip()
        return Score(float(same), same, None if same else "one of the texts is empty")
    value = max(0.0, min(1.0, model().similarity(output, expected)))
    return Score(value, value >= PASS_MARK)
