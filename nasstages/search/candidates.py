"""Candidate pools for model-based search (HOTNAS Alg. 1): mutations of the best architectures
so far plus uniform samples, deduplicated under the run's query rule and without what it forbids;
and the candidate generators a BO method composes (Algorithm 1's pool, a whole finite pool, either
prefiltered by a zero-shot proxy)."""

from __future__ import annotations

import abc
from typing import Sequence

import numpy as np

from nasstages.errors import ConfigError
from nasstages.search.query_rule import QueryRule
from nasstages.spaces import Arch, SearchSpace


def candidate_pool(space: SearchSpace, archs: Sequence[Arch], scores: Sequence[float], rng: np.random.Generator,
                   *, rule: QueryRule, top_k: int = 10, mutations: int = 100, random: int = 100) -> list[Arch]:
    """Up to ``mutations`` mutants of the ``top_k`` best (by score) plus ``random`` uniform samples,
    each one the query ``rule`` allows, distinct under its key (by string under ``none``)."""
    seen: set = set()
    pool: list[Arch] = []

    def offer(arch: Arch) -> None:
        key = rule.key(arch)
        if key not in seen and rule.allows(arch):
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
    def initial(self, n: int, evaluated: Sequence[Arch], rng: np.random.Generator, rule: QueryRule) -> list[Arch]:
        """``n`` architectures to evaluate before the surrogate has data (each one ``rule`` allows)."""

    @abc.abstractmethod
    def candidates(self, evaluated: Sequence[Arch], evaluated_ids: np.ndarray, scores: Sequence[float],
                   rng: np.random.Generator, rule: QueryRule) -> np.ndarray:
        """Ids of this round's candidates (none that ``rule`` forbids)."""


class MutationPool(CandidateGenerator):
    """HOTNAS's Algorithm 1 pool: mutants of the ``top_k`` best plus uniform samples, only what
    the query rule allows (:func:`candidate_pool`); the first queries are uniform samples."""

    def __init__(self, space: SearchSpace, source, top_k: int = 10, mutations: int = 60, random: int = 40) -> None:
        self.space, self.source = space, source
        self.top_k, self.mutations, self.random = top_k, mutations, random

    def initial(self, n: int, evaluated: Sequence[Arch], rng: np.random.Generator, rule: QueryRule) -> list[Arch]:
        out: list[Arch] = []
        pending: set = set()
        for _ in range(100_000):  # a matrix source's pool may not hold every architecture of the space
            if len(out) == n:
                return out
            arch = rule.sample(1, rng, pending)[0]  # (one outside the pool stays pending: never wanted)
            if self.source.contains(arch):
                out.append(arch)
        raise ConfigError(f"found {len(out)} of {n} initial architectures in the distance source's pool: "
                          "use a matrix over the whole space or candidates: all")

    def candidates(self, evaluated, evaluated_ids, scores, rng, rule) -> np.ndarray:
        pool = candidate_pool(self.space, evaluated, scores, rng, rule=rule, top_k=self.top_k,
                              mutations=self.mutations, random=self.random)
        return self.source.ids([arch for arch in pool if self.source.contains(arch)])


class WholePool(CandidateGenerator):
    """Every architecture of a finite source (a precomputed matrix's pool, e.g. a whole tabular
    space) that the query rule allows; the first queries are uniform draws from it."""

    def __init__(self, source) -> None:
        self.source = source
        self._members: dict | None = None  # the rule's key -> the pool members with it, built once
        self._free_mask: np.ndarray | None = None  # pool members the rule still allows
        self._masked: set = set()  # queried keys already cleared from the mask

    def _free(self, rule: QueryRule) -> np.ndarray:
        if rule.name == "none":
            return np.arange(self.source.size)
        if self._members is None:
            self._members = {}
            for i in range(self.source.size):
                self._members.setdefault(rule.key(self.source.arch(i)), []).append(i)
            self._free_mask = np.ones(self.source.size, dtype=bool)
        # only the keys queried since the last round are cleared (a scan of the whole pool each
        # round was a tenth of a whole-space TNB101 run)
        for key in rule.queried - self._masked:
            self._free_mask[self._members.get(key, [])] = False
        self._masked = set(rule.queried)
        return np.flatnonzero(self._free_mask)

    def initial(self, n: int, evaluated: Sequence[Arch], rng: np.random.Generator, rule: QueryRule) -> list[Arch]:
        free = self._free(rule)
        out: list[Arch] = []
        pending: set = set()
        for i in rng.permutation(len(free)):
            arch = self.source.arch(int(free[int(i)]))
            if rule.allows(arch, pending):
                out.append(arch)
                pending.add(rule.key(arch))
            if len(out) == n:
                break
        return out

    def candidates(self, evaluated, evaluated_ids, scores, rng, rule) -> np.ndarray:
        return self._free(rule)


class Prefiltered(CandidateGenerator):
    """Another generator's candidates, cut to the best fraction by a zero-shot proxy (``zs_prefilter``)."""

    def __init__(self, inner: CandidateGenerator, source, prefilter) -> None:
        self.inner, self.source, self.prefilter = inner, source, prefilter

    def initial(self, n, evaluated, rng, rule) -> list[Arch]:
        return self.inner.initial(n, evaluated, rng, rule)

    def candidates(self, evaluated, evaluated_ids, scores, rng, rule) -> np.ndarray:
        ids = self.inner.candidates(evaluated, evaluated_ids, scores, rng, rule)
        kept = self.prefilter([self.source.arch(int(i)) for i in ids])
        return self.source.ids(kept)
