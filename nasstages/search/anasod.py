"""ANASOD: search over operation distributions, then decode to an architecture (Wan, Ru, Esperança & Carlucci,
Approximate Neural Architecture Search via Operation Distribution Learning, WACV 2022).

An architecture's encoding is its op distribution p = counts / E (E edges). The encodings live
on the simplex grid {c ∈ ℕ^K : Σc = E}/E; a point of the continuous simplex is rounded onto it
by the largest-remainder rule, and decoded to a uniformly random architecture with those counts.

* ``anasod_rs``: p ~ Dirichlet(1) (uniform on the simplex), rounded, decoded.
* ``anasod_biased_rs``: p ~ Dirichlet(1 + β_t K p_best), β_t = ``beta_rate`` · t rising with the
  number t of observations, so sampling concentrates around the best encoding found.
* ``anasod_bo``: a GP (squared-exponential on the L2 distance between encodings) models accuracy
  from the encoding; candidates are Dirichlet(1 + β K p_best) samples, the best by EI is decoded.
  β follows a TuRBO-style rule: halved after ``success_tol`` consecutive improvements (a wider
  region), doubled after ``failure_tol`` consecutive non-improvements (a narrower one).
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
from scipy.spatial.distance import cdist

from nasstages.benchmarks.base import Evaluation
from nasstages.errors import ConfigError
from nasstages.search.acquisition import expected_improvement
from nasstages.search.base import Optimizer
from nasstages.spaces import Arch, SearchSpace
from nasstages.surrogates import DistanceGP


def round_to_grid(p: np.ndarray, total: int) -> np.ndarray:
    """Largest-remainder rounding of a distribution p onto integer counts summing to ``total``.

    Each count is floor or ceil of p_k · total; grid points map to themselves; ties go to the
    lower index.
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, None)
    p = p / p.sum()
    scaled = p * total
    counts = np.floor(scaled + 1e-12).astype(np.int64)
    remainder = total - counts.sum()
    order = np.argsort(-(scaled - counts), kind="stable")
    counts[order[:remainder]] += 1
    return counts


class _AnasodBase(Optimizer):
    requires = {"edge_operations": "ANASOD encodes a cell by its per-edge operation counts"}

    def __init__(self, space: SearchSpace, rng: np.random.Generator) -> None:
        super().__init__(space, rng)
        try:
            self.k = len(space.operations)
        except NotImplementedError as exc:
            raise ConfigError(f"ANASOD needs a space with per-edge operations: {exc}") from exc
        self.edges = int(space.operation_counts(space.sample(np.random.default_rng(0))).sum())
        self.archs: list[Arch] = []
        self.observed: list[float] = []
        self.seen: set[str] = set()

    def encoding(self, arch: Arch) -> np.ndarray:
        counts = self.space.operation_counts(arch)
        return counts / counts.sum()

    def decode(self, p: np.ndarray) -> Arch:
        """Round p to the grid and draw an architecture with those counts that the query rule allows
        and this run has not proposed (50 tries; the runner replaces a proposal still forbidden)."""
        counts = round_to_grid(p, self.edges)
        rule = self.query_rule
        for _ in range(50):
            arch = self.space.sample_with_operation_counts(counts, self.rng)
            if rule.name == "none" or (rule.allows(arch) and rule.key(arch) not in self.seen):
                break
        if rule.name != "none":
            self.seen.add(str(rule.key(arch)))
        return arch

    def best_encoding(self) -> np.ndarray:
        return self.encoding(self.archs[int(np.argmax(self.observed))])

    def tell(self, archs: Sequence[Arch], evaluations: Sequence[Evaluation]) -> None:
        self.archs += list(archs)
        self.observed += [e.valid_acc for e in evaluations]

    def _state(self) -> dict[str, Any]:
        return {"archs": [self.space.to_string(a) for a in self.archs], "observed": self.observed,
                "seen": sorted(self.seen), **self._extra_state()}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.archs = [self.space.from_string(s) for s in state["archs"]]
        self.observed = list(state["observed"])
        self.seen = set(state["seen"])
        self._load_extra_state(state)

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        pass


class AnasodRS(_AnasodBase):
    """Random search over op distributions (uniform on the simplex)."""

    def ask(self, n: int) -> list[Arch]:
        return [self.decode(self.rng.dirichlet(np.ones(self.k))) for _ in range(n)]


class AnasodBiasedRS(_AnasodBase):
    """Dirichlet sampling concentrating around the best encoding as β_t = beta_rate · t rises."""

    def __init__(self, space: SearchSpace, rng: np.random.Generator, beta_rate: float = 0.1) -> None:
        super().__init__(space, rng)
        if beta_rate < 0:
            raise ConfigError("anasod_biased_rs: beta_rate must be non-negative")
        self.beta_rate = beta_rate

    def ask(self, n: int) -> list[Arch]:
        out = []
        for _ in range(n):
            if not self.archs:
                alpha = np.ones(self.k)
            else:
                alpha = 1.0 + self.beta_rate * len(self.archs) * self.k * self.best_encoding()
            out.append(self.decode(self.rng.dirichlet(alpha)))
        return out


class AnasodBO(_AnasodBase):
    """GP on encodings + EI over Dirichlet candidates around the best, TuRBO-style β."""

    def __init__(self, space: SearchSpace, rng: np.random.Generator, n_init: int = 10, candidates: int = 200,
                 beta_init: float = 1.0, beta_min: float = 0.05, beta_max: float = 50.0, success_tol: int = 3,
                 failure_tol: int = 3, train_iters: int = 40) -> None:
        super().__init__(space, rng)
        if not 0 < beta_min <= beta_init <= beta_max:
            raise ConfigError("anasod_bo: need 0 < beta_min <= beta_init <= beta_max")
        self.n_init, self.n_candidates = n_init, candidates
        self.beta, self.beta_min, self.beta_max = beta_init, beta_min, beta_max
        self.success_tol, self.failure_tol = success_tol, failure_tol
        self.successes = self.failures = 0
        self.gp = DistanceGP(form="squared", train_iters=train_iters)

    def ask(self, n: int) -> list[Arch]:
        started = time.perf_counter()
        if len(self.archs) < self.n_init:
            self.proposal_info = []
            return [self.decode(self.rng.dirichlet(np.ones(self.k))) for _ in range(n)]
        X = np.array([self.encoding(a) for a in self.archs])
        self.gp.fit(cdist(X, X), np.asarray(self.observed))
        alpha = 1.0 + self.beta * self.k * self.best_encoding()
        grid = {tuple(round_to_grid(self.rng.dirichlet(alpha), self.edges)) for _ in range(self.n_candidates)}
        cands = np.array(sorted(grid), dtype=np.float64) / self.edges
        post = self.gp.predict(cdist(cands, X))
        score = expected_improvement(post.mean, post.var, max(self.observed))
        picks = np.argsort(-score, kind="stable")[:n]
        seconds = (time.perf_counter() - started) / len(picks)
        self.proposal_info = [{"predicted_acc": float(post.mean[i]), "predicted_std": float(np.sqrt(post.var[i])),
                               "surrogate_s": seconds} for i in picks]
        return [self.decode(cands[i]) for i in picks]

    def tell(self, archs: Sequence[Arch], evaluations: Sequence[Evaluation]) -> None:
        best_before = max(self.observed) if self.observed else -np.inf
        super().tell(archs, evaluations)
        if len(self.archs) <= self.n_init:
            return
        if max(e.valid_acc for e in evaluations) > best_before:
            self.successes, self.failures = self.successes + 1, 0
        else:
            self.successes, self.failures = 0, self.failures + 1
        if self.successes >= self.success_tol:
            self.beta, self.successes = max(self.beta_min, self.beta / 2), 0
        elif self.failures >= self.failure_tol:
            self.beta, self.failures = min(self.beta_max, self.beta * 2), 0

    def summary(self) -> dict[str, Any]:
        return {"final_beta": self.beta, **self.gp.summary()}

    def _extra_state(self) -> dict[str, Any]:
        return {"beta": self.beta, "successes": self.successes, "failures": self.failures}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.beta, self.successes, self.failures = state["beta"], state["successes"], state["failures"]
