"""Bayesian optimization with a GP on an architecture distance: HOTNAS, NASBOT, BO-edit, TW-NAS.

Each round (HOTNAS, Alg. 1): fit the GP (DistanceGP) to the observed accuracies with the
metric's distances, build a candidate pool (mutations of the best + random samples), score it
with the acquisition and propose the best. ``twnas_kdpp`` instead draws a batch of k diverse,
good candidates from a quality k-DPP on the GP posterior (Nguyen et al., 2021, §4):
L = diag(q) K_post diag(q), q_i = exp(α · standardized posterior mean).

Distances come on the fly from the distance stage's batched solvers (cached between rounds), or,
with ``distance_matrix``, from a precomputed matrix file; then the candidates are the unevaluated
architectures of that matrix's pool.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from nasstages.benchmarks.base import Evaluation
from nasstages.distances import make_distance
from nasstages.errors import ConfigError
from nasstages.search.acquisition import (ACQUISITIONS, expected_improvement, thompson_sample, ucb_beta,
                                          upper_confidence_bound)
from nasstages.search.base import Optimizer
from nasstages.search.candidates import candidate_pool
from nasstages.search.prefilter import make_prefilter
from nasstages.search.kdpp import sample_kdpp
from nasstages.spaces import Arch, SearchSpace
from nasstages.surrogates import DistanceGP


class DistanceBO(Optimizer):
    """GP-BO on a distance kernel; subclasses fix the metric and the default acquisition."""

    metric = "hotnn"
    default_acquisition = "ucb"

    def __init__(self, space: SearchSpace, rng: np.random.Generator, metric_params: dict | None = None,
                 acquisition: str | None = None, kernel: str = "exp", psd: str = "clip", n_init: int = 10,
                 top_k: int = 10, pool_mutations: int = 60, pool_random: int = 40, train_iters: int = 40,
                 refit_every: int = 5, beta_scale: float = 0.2, distance_matrix: str = "",
                 batch_size: int = 1, zs_prefilter: dict | None = None) -> None:
        super().__init__(space, rng)
        self.acquisition = acquisition or self.default_acquisition
        if self.acquisition not in ACQUISITIONS:
            raise ConfigError(f"acquisition must be one of {', '.join(ACQUISITIONS)}, not {self.acquisition!r}")
        if n_init < 1 or batch_size < 1:
            raise ConfigError("n_init and batch_size must be at least 1")
        self.distance = make_distance(self.metric, space, metric_params or {})
        self.gp = DistanceGP(form=kernel, psd=psd, train_iters=train_iters)
        self.n_init, self.top_k, self.beta_scale = n_init, top_k, beta_scale
        self.refit_every = max(1, refit_every)
        self._last_refit = -10**9
        self.pool_mutations, self.pool_random = pool_mutations, pool_random
        self.batch_size = batch_size
        self.prefilter = make_prefilter(space, rng, zs_prefilter)
        self.archs: list[Arch] = []
        self.observed: list[float] = []
        self.train_distances = np.zeros((0, 0))
        self.proposal_info: list[dict[str, float]] = []
        self._hyper: dict[str, float] | None = None
        self.matrix = None
        if distance_matrix:
            from nasstages.distances.store import read_matrix

            self.matrix = read_matrix(distance_matrix)
            if self.matrix.metric != self.metric:
                raise ConfigError(f"{distance_matrix} holds {self.matrix.metric!r} distances, not {self.metric!r}")
            self.matrix_row = {s: k for k, s in enumerate(self.matrix.archs)}

    # distances -----------------------------------------------------------------------------
    def _pairwise(self, a: Sequence[Arch], b: Sequence[Arch] | None = None) -> np.ndarray:
        if self.matrix is None:
            return self.distance.pairwise(a, b)
        ia = [self.matrix_row[self.space.to_string(x)] for x in a]
        ib = ia if b is None else [self.matrix_row[self.space.to_string(x)] for x in b]
        return self.matrix.distances[np.ix_(ia, ib)].astype(np.float64)

    def _candidates(self) -> list[Arch]:
        if self.matrix is not None:
            taken = {self.space.to_string(a) for a in self.archs}
            return [self.space.from_string(s) for s in self.matrix.archs if s not in taken]
        return candidate_pool(self.space, self.archs, self.observed, self.rng, top_k=self.top_k,
                              mutations=self.pool_mutations, random=self.pool_random)

    def _surrogate_candidates(self) -> list[Arch]:
        """What the acquisition scores: the candidates, zero-shot prefiltered when configured."""
        candidates = self._candidates()
        return self.prefilter(candidates) if self.prefilter is not None else candidates

    # ask / tell ----------------------------------------------------------------------------
    def ask(self, n: int) -> list[Arch]:
        started = time.perf_counter()
        if len(self.archs) < self.n_init:
            if self.matrix is not None:
                free = self._candidates()
                picks = self.rng.choice(len(free), size=min(n, len(free)), replace=False)
                chosen = [free[int(i)] for i in picks]
            else:
                seen = {self.space.iso_hash(a) for a in self.archs}
                chosen = self.space.sample_unique(n, self.rng, by="iso", seen=seen)
            self.proposal_info = [{"predicted_acc": float("nan"), "predicted_std": float("nan"),
                                   "surrogate_s": 0.0} for _ in chosen]
            return chosen
        # hyperparameters are re-optimized every refit_every observations (warm-started), and
        # held fixed in between; the posterior always conditions on every observation
        refit = len(self.archs) - self._last_refit >= self.refit_every or self._hyper is None
        self.gp.fit(self.train_distances, np.asarray(self.observed), hyper=self._hyper, optimize=refit)
        if refit:
            self._last_refit = len(self.archs)
            self._hyper = self.gp.hyperparameters()
        candidates = self._surrogate_candidates()
        if not candidates:
            raise ConfigError("no candidate architectures left to propose")
        cross = self._pairwise(candidates, self.archs)
        joint = self.acquisition == "ts" or self._wants_joint(n)
        if joint:
            posterior = self.gp.predict(cross, self._pairwise(candidates))
        else:  # marginals only: chunks keep the kernel matrices small over whole-space candidate sets
            posterior = self.gp.predict_marginals(cross)
        picks = self._select(posterior, n)
        seconds = (time.perf_counter() - started) / max(len(picks), 1)
        self.proposal_info = [{"predicted_acc": float(posterior.mean[i]), "predicted_std": float(np.sqrt(posterior.var[i])),
                               "surrogate_s": seconds} for i in picks]
        return [candidates[i] for i in picks]

    def _wants_joint(self, n: int) -> bool:
        return False

    def _select(self, posterior, n: int) -> list[int]:
        t = len(self.archs) + 1
        if self.acquisition == "ucb":
            score = upper_confidence_bound(posterior.mean, posterior.var, ucb_beta(t, scale=self.beta_scale))
        elif self.acquisition == "ei":
            score = expected_improvement(posterior.mean, posterior.var, max(self.observed))
        else:
            picks: list[int] = []
            while len(picks) < min(n, len(posterior.mean)):
                sample = thompson_sample(posterior.mean, posterior.covariance, self.rng)
                sample[picks] = -np.inf
                picks.append(int(np.argmax(sample)))
            return picks
        return [int(i) for i in np.argsort(-score, kind="stable")[:n]]

    def tell(self, archs: Sequence[Arch], evaluations: Sequence[Evaluation]) -> None:
        archs = list(archs)
        old = len(self.archs)
        new_old = self._pairwise(archs, self.archs) if old else np.zeros((len(archs), 0))
        new_new = self._pairwise(archs)
        grown = np.zeros((old + len(archs), old + len(archs)))
        grown[:old, :old] = self.train_distances
        grown[old:, :old] = new_old
        grown[:old, old:] = new_old.T
        grown[old:, old:] = new_new
        self.train_distances = grown
        self.archs += archs
        self.observed += [e.valid_acc for e in evaluations]

    def summary(self) -> dict[str, Any]:
        """Surrogate facts for the search's JSON record."""
        return self.gp.summary()

    def _state(self) -> dict[str, Any]:
        return {"archs": [self.space.to_string(a) for a in self.archs], "observed": self.observed,
                "hyper": self._hyper, "last_refit": self._last_refit}

    def _load_state(self, state: dict[str, Any]) -> None:
        archs = [self.space.from_string(s) for s in state["archs"]]
        self.archs, self.observed, self.train_distances = [], [], np.zeros((0, 0))
        if archs:
            self.train_distances = self._pairwise(archs)
            self.archs = archs
            self.observed = list(state["observed"])
        self._hyper = state["hyper"]
        self._last_refit = state["last_refit"]


class HOTNAS(DistanceBO):
    """HOTNAS (Yang, Liu, Xu): HOTNN kernel, UCB."""

    metric = "hotnn"
    default_acquisition = "ucb"


class NASBOT(DistanceBO):
    """NASBOT (Kandasamy et al., 2018): OTMANN kernel, EI (the paper optimizes EI by evolution;
    here over the mutation/random candidate pool)."""

    metric = "otmann"
    default_acquisition = "ei"


class BOEdit(DistanceBO):
    """BO with an edit-distance (Hamming) kernel, EI."""

    metric = "edit"
    default_acquisition = "ei"


class TWNAS(DistanceBO):
    """TW-NAS sequential (Nguyen et al., 2021): tree-Wasserstein kernel (PSD), UCB."""

    metric = "tw"
    requires = {"single_cell": "TW-NAS's tree encoding is defined on one cell"}
    default_acquisition = "ucb"


class TWNASkDPP(TWNAS):
    """TW-NAS parallel: each round a batch of ``batch_size`` architectures from a quality k-DPP."""

    def __init__(self, space: SearchSpace, rng: np.random.Generator, metric_params: dict | None = None,
                 acquisition: str | None = None, kernel: str = "exp", psd: str = "clip", n_init: int = 10,
                 top_k: int = 10, pool_mutations: int = 60, pool_random: int = 40, train_iters: int = 40,
                 refit_every: int = 5, beta_scale: float = 0.2, distance_matrix: str = "", batch_size: int = 5,
                 quality_weight: float = 1.0) -> None:
        super().__init__(space, rng, metric_params, acquisition, kernel, psd, n_init, top_k, pool_mutations,
                         pool_random, train_iters, refit_every, beta_scale, distance_matrix, batch_size)
        self.quality_weight = quality_weight

    def _wants_joint(self, n: int) -> bool:
        return True

    def _select(self, posterior, n: int) -> list[int]:
        k = min(n, len(posterior.mean))
        z = (posterior.mean - posterior.mean.mean()) / (posterior.mean.std() or 1.0)
        quality = np.exp(self.quality_weight * z)
        sd = np.sqrt(np.clip(np.diag(posterior.covariance), 1e-12, None))
        correlation = posterior.covariance / np.outer(sd, sd)
        L = quality[:, None] * correlation * quality[None, :] + 1e-9 * np.eye(len(quality))
        return sample_kdpp(L, k, self.rng)
