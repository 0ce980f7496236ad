"""Grouped text pools: many template lists flattened into one, so a row picks a template
of its group (intent, quality variant, tone, ...) with one vectorized draw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pool:
    templates: tuple[str, ...]
    base: np.ndarray  # first template of each group
    count: np.ndarray  # templates in each group

    @classmethod
    def of(cls, groups: Sequence[Sequence[str]]) -> Pool:
        templates: list[str] = []
        base, count = [], []
        for g in groups:
            if not g:
                raise ValueError("every group of a pool needs a template")
            base.append(len(templates))
            count.append(len(g))
            templates.extend(g)
        return cls(tuple(templates), np.array(base, np.int64), np.array(count, np.int64))

    def draw(self, rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
        """A template index of each row's group, uniformly within the group."""
        group = np.asarray(group, dtype=np.int64)
        u = rng.random(len(group))
        return self.base[group] + np.minimum((u * self.count[group]).astype(np.int64),
                                             self.count[group] - 1)


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row from row-wise probabilities (rows of ``probs`` sum to 1)."""
    probs = np.asarray(probs, dtype=np.float64)
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)
