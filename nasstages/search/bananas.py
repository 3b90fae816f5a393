"""BANANAS (White, Neiswanger, Savani, AAAI 2021): path encoding, a meta neural network ensemble,
independent Thompson sampling over a mutation pool of the best architectures."""

from __future__ import annotations

import itertools
import time
from typing import Sequence

import numpy as np
import torch

from nasstages.distances.ops import category
from nasstages.distances.simple import input_output_paths
from nasstages.errors import ConfigError
from nasstages.search.base import HistoryOptimizer
from nasstages.search.candidates import candidate_pool
from nasstages.search.prefilter import make_prefilter
from nasstages.spaces import Arch, SearchSpace
from nasstages.surrogates.ensemble import MLPEnsemble


class PathEncoder:
    """One bit per op sequence (length 1..space.max_path_ops over the path-carrying ops) that an
    input->output path of the (canonical) cell follows."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        ops = [op for op in space.operations if category(op) not in ("none", "io")]
        sequences = [seq for length in range(1, space.max_path_ops + 1) for seq in itertools.product(ops, repeat=length)]
        self.index = {seq: k for k, seq in enumerate(sequences)}

    def encode(self, archs: Sequence[Arch]) -> np.ndarray:
        out = np.zeros((len(archs), len(self.index)), dtype=np.float32)
        for row, arch in enumerate(archs):
            graph = self.space.to_graph(self.space.canonicalize(arch))
            for cell in graph.cells.values():
                for path in input_output_paths(cell):
                    out[row, self.index[path]] = 1.0
        return out


class Bananas(HistoryOptimizer):
    """Each round: fit the ensemble on path encodings, draw one sample per candidate from
    N(mean, std) (independent Thompson sampling), propose the best candidates."""

    requires = {"path_encoding": "BANANAS's path encoding needs a cell with one op per edge"}

    param_choices = {"acquisition": ("its", "ucb", "mean")}
    param_ranges = {"pool_mutations": (0, None)}

    def __init__(self, space: SearchSpace, rng: np.random.Generator, n_init: int = 10, members: int = 5,
                 epochs: int = 200, top_k: int = 10, pool_mutations: int = 100, pool_random: int = 0,
                 acquisition: str = "its", zs_prefilter: dict | None = None) -> None:
        super().__init__(space, rng)
        if acquisition not in ("its", "ucb", "mean"):
            raise ConfigError(f"bananas: acquisition must be its, ucb or mean, not {acquisition!r}")
        try:
            self.encoder = PathEncoder(space)
        except NotImplementedError as exc:
            raise ConfigError(f"BANANAS needs a space with path encodings: {exc}") from exc
        self.n_init, self.members, self.epochs = n_init, members, epochs
        self.top_k, self.pool_mutations, self.pool_random = top_k, pool_mutations, pool_random
        self.acquisition = acquisition
        self.prefilter = make_prefilter(space, rng, zs_prefilter)

    def ask(self, n: int) -> list[Arch]:
        started = time.perf_counter()
        if len(self.archs) < self.n_init:
            self.proposal_info = []
            return self.query_rule.sample(n, self.rng)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny networks: threads cost more than they give
        try:
            ensemble = MLPEnsemble(members=self.members, epochs=self.epochs, seed=int(self.rng.integers(2**31)))
            ensemble.fit(self.encoder.encode(self.archs), np.asarray(self.observed))
            candidates = candidate_pool(self.space, self.archs, self.observed, self.rng, rule=self.query_rule, top_k=self.top_k,
                                        mutations=self.pool_mutations, random=self.pool_random)
            if self.prefilter is not None:
                candidates = self.prefilter(candidates)
            mean, std = ensemble.predict(self.encoder.encode(candidates))
        finally:
            torch.set_num_threads(threads)
        if self.acquisition == "its":
            score = self.rng.normal(mean, np.maximum(std, 1e-12))
        elif self.acquisition == "ucb":
            score = mean + std
        else:
            score = mean
        picks = np.argsort(-score, kind="stable")[:n]
        seconds = (time.perf_counter() - started) / len(picks)
        self.proposal_info = [{"predicted_acc": float(mean[i]), "predicted_std": float(std[i]), "surrogate_s": seconds}
                              for i in picks]
        return [candidates[int(i)] for i in picks]
