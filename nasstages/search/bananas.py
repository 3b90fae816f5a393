"""BANANAS (White, Neiswanger, Savani, AAAI 2021): path encoding, a meta neural network ensemble,
independent Thompson sampling over a mutation pool of the best architectures.

Defaults follow the reference code (naszilla/naszilla, ``nas_algorithms.bananas`` and its
``meta_neural_net.MetaNeuralnet`` settings): 10 initial random architectures, k = 10 proposals per
round (``batch_size``), an ensemble of 5 networks of 10 ReLU layers × 20 units on raw targets,
mean absolute error, 150 epochs, mini-batches of 32, Adam at lr 0.01, Keras's glorot-uniform
initialization; 100 candidates by mutating the best architecture (``top_k`` 1); independent
Thompson sampling (``its``). ``bananas_fast`` is our earlier, cheaper setting (3 × 32 units, MSE on
standardized targets, full batch, 200 epochs, the 10 best mutated, one proposal per round), kept as
a named variant.
"""

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
    """One bit per op sequence (length space.min_path_ops..max_path_ops over the path-carrying ops)
    that an input->output path of the (canonical) cell follows (NB101: 1 + 3 + ... + 3^5 = 364, as
    BANANAS's path encoding)."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        ops = [op for op in space.operations if category(op) not in ("none", "io")]
        sequences = [seq for length in range(space.min_path_ops, space.max_path_ops + 1)
                     for seq in itertools.product(ops, repeat=length)]
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

    param_choices = {"acquisition": ("its", "ucb", "mean"), "loss": ("mse", "mae"), "init": ("torch", "glorot")}
    param_ranges = {"pool_mutations": (0, None), "train_batch": (0, None)}

    def __init__(self, space: SearchSpace, rng: np.random.Generator, n_init: int = 10, members: int = 5,
                 epochs: int = 150, top_k: int = 1, pool_mutations: int = 100, pool_random: int = 0,
                 acquisition: str = "its", zs_prefilter: dict | None = None, batch_size: int = 10,
                 hidden: int = 20, layers: int = 10, loss: str = "mae", train_batch: int = 32,
                 standardize: bool = False, init: str = "glorot", lr: float = 0.01) -> None:
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
        self.batch_size = batch_size
        self.network = {"hidden": hidden, "layers": layers, "loss": loss, "standardize": standardize, "init": init,
                        "lr": lr, "batch_size": train_batch or None}  # 0: full batch
        self.prefilter = make_prefilter(space, rng, zs_prefilter)

    def ask(self, n: int) -> list[Arch]:
        started = time.perf_counter()
        if len(self.archs) < self.n_init:
            self.proposal_info = []
            return self.query_rule.sample(n, self.rng)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny networks: threads cost more than they give
        try:
            ensemble = MLPEnsemble(members=self.members, epochs=self.epochs, seed=int(self.rng.integers(2**31)),
                                   **self.network)
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


class BananasFast(Bananas):
    """Our earlier BANANAS setting, a named variant (see the module docstring): cheaper and, on
    NB201, measured beside the reference setting in the README's all-methods table."""

    def __init__(self, space: SearchSpace, rng: np.random.Generator, n_init: int = 10, members: int = 5,
                 epochs: int = 200, top_k: int = 10, pool_mutations: int = 100, pool_random: int = 0,
                 acquisition: str = "its", zs_prefilter: dict | None = None, batch_size: int = 1,
                 hidden: int = 32, layers: int = 3, loss: str = "mse", train_batch: int = 0,
                 standardize: bool = True, init: str = "torch", lr: float = 0.01) -> None:
        super().__init__(space, rng, n_init, members, epochs, top_k, pool_mutations, pool_random, acquisition,
                         zs_prefilter, batch_size, hidden, layers, loss, train_batch, standardize, init, lr)
