"""Candidate pools for model-based search (HOTNAS Alg. 1): mutations of the best architectures
so far plus uniform samples, deduplicated by isomorphism hash and against what was evaluated;
and the candidate generators a BO method composes (Algorithm 1's pool, a whole finite pool, either
prefiltered by a zero-shot proxy)."""

from __future__ import annotations

import abc
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


class CandidateGenerator(abc.ABC):
    """What a model-based method scores each round, as ids of its distance source."""

    @abc.abstractmethod
    def initial(self, n: int, evaluated: Sequence[Arch], rng: np.random.Generator) -> list[Arch]:
        """``n`` architectures to evaluate before the surrogate has data."""

    @abc.abstractmethod
    def candidates(self, evaluated: Sequence[Arch], evaluated_ids: np.ndarray, scores: Sequence[float],
                   rng: np.random.Generator) -> np.ndarray:
        """Ids of this round's candidates (never an evaluated one)."""


class MutationPool(CandidateGenerator):
    """HOTNAS's Algorithm 1 pool: mutants of the ``top_k`` best plus uniform samples, new
    isomorphism classes only (:func:`candidate_pool`); the first queries are uniform samples."""

    def __init__(self, space: SearchSpace, source, top_k: int = 10, mutations: int = 60, random: int = 40) -> None:
        self.space, self.source = space, source
        self.top_k, self.mutations, self.random = top_k, mutations, random

    def initial(self, n: int, evaluated: Sequence[Arch], rng: np.random.Generator) -> list[Arch]:
        seen = {self.space.iso_hash(a) for a in evaluated}
        return self.space.sample_unique(n, rng, by="iso", seen=seen)

    def candidates(self, evaluated, evaluated_ids, scores, rng) -> np.ndarray:
        pool = candidate_pool(self.space, evaluated, scores, rng, top_k=self.top_k, mutations=self.mutations,
                              random=self.random)
        return self.source.ids(pool)


class WholePool(CandidateGenerator):
    """Every unevaluated architecture of a finite source (a precomputed matrix's pool, e.g. a whole
    tabular space); the first queries are uniform draws from it."""

    def __init__(self, source) -> None:
        self.source = source

    def _free(self, evaluated_ids: np.ndarray) -> np.ndarray:
        free = np.ones(self.source.size, dtype=bool)
        free[np.asarray(evaluated_ids, dtype=np.int64)] = False
        return np.flatnonzero(free)

    def initial(self, n: int, evaluated: Sequence[Arch], rng: np.random.Generator) -> list[Arch]:
        free = self._free(self.source.ids(evaluated))
        picks = rng.choice(len(free), size=min(n, len(free)), replace=False)
        return [self.source.arch(int(free[int(i)])) for i in picks]

    def candidates(self, evaluated, evaluated_ids, scores, rng) -> np.ndarray:
        return self._free(evaluated_ids)


class Prefiltered(CandidateGenerator):
    """Another generator's candidates, cut to the best fraction by a zero-shot proxy (``zs_prefilter``)."""

    def __init__(self, inner: CandidateGenerator, source, prefilter) -> None:
        self.inner, self.source, self.prefilter = inner, source, prefilter

    def initial(self, n, evaluated, rng) -> list[Arch]:
        return self.inner.initial(n, evaluated, rng)

    def candidates(self, evaluated, evaluated_ids, scores, rng) -> np.ndarray:
        ids = self.inner.candidates(evaluated, evaluated_ids, scores, rng)
        kept = self.prefilter([self.source.arch(int(i)) for i in ids])
        return self.source.ids(kept)
