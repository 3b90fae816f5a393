"""Candidate pools for model-based search (HOTNAS Alg. 1): mutations of the best architectures
so far plus uniform samples, deduplicated by isomorphism hash and against what was evaluated."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nasstages.spaces import Arch, SearchSpace


def candidate_pool(space: SearchSpace, archs: Sequence[Arch], scores: Sequence[float], rng: np.random.Generator,
                   *, top_k: int = 10, mutations: int = 100, random: int = 100) -> list[Arch]:
    """Up to ``mutations`` mutants of the ``top_k`` best (by score) plus ``random`` uniform samples."""
    seen = {space.iso_hash(a) for a in archs}
    pool: list[Arch] = []

    def offer(arch: Arch) -> None:
        key = space.iso_hash(arch)
        if key not in seen:
            seen.add(key)
            pool.append(arch)

    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:top_k]
    parents = [archs[int(i)] for i in order]
    attempts = 0
    while parents and len(pool) < mutations and attempts < 20 * mutations:
        parent = parents[attempts % len(parents)]
        child = space.mutate(parent, rng)
        if rng.random() < 0.5:  # half of the mutants take a second step, as BANANAS' mutation rate
            child = space.mutate(child, rng)
        offer(child)
        attempts += 1
    target = len(pool) + random
    attempts = 0
    while len(pool) < target and attempts < 50 * max(random, 1):
        offer(space.sample(rng))
        attempts += 1
    return pool
