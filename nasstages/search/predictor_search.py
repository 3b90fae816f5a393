"""Predictor-based search with a ranking predictor (GATES, Ning et al. 2020, Sec. 4.3): train the
predictor on every evaluated cell, rank a pool of mutants of the best cells plus random cells,
evaluate the top ``batch_size``."""

from __future__ import annotations

import time

import numpy as np
import torch

from nasstages.encoders.graphs import graph_tensors
from nasstages.encoders.predictors import CELL_FORMS, PredictorConfig, RankingPredictor
from nasstages.errors import ConfigError
from nasstages.search.base import HistoryOptimizer
from nasstages.search.candidates import candidate_pool
from nasstages.search.prefilter import make_prefilter
from nasstages.spaces import Arch, SearchSpace


class GatesPredictorSearch(HistoryOptimizer):
    """Rounds of: fit the predictor (hinge ranking loss by default), score candidates, take the top."""

    requires = {"single_cell": "the GATES encoder reads one fixed-size cell graph"}
    param_ranges = {"pool_mutations": (0, None), "pool_random": (0, None), "min_steps": (0, None)}
    param_choices = {"cell_form": CELL_FORMS}

    def __init__(self, space: SearchSpace, rng: np.random.Generator, n_init: int = 10, batch_size: int = 5,
                 encoder: str = "gates", loss: str = "hinge", epochs: int = 100, min_steps: int = 200, hidden: int = 64,
                 top_k: int = 10, pool_mutations: int = 200, pool_random: int = 200,
                 zs_prefilter: dict | None = None, cell_form: str = "auto") -> None:
        super().__init__(space, rng)
        if n_init < 2 or batch_size < 1:
            raise ConfigError("gates_predictor: n_init must be at least 2 and batch_size at least 1")
        # our search's own small predictor (not an evaluation of the published ranking predictors):
        # one hidden-unit head layer on every ordered pair, whatever the encoder's reference training; the
        # encoder reads the cell as GATES does (cell_form auto: ops on edges where the space has them)
        self.config = PredictorConfig(encoder=encoder, loss=loss, epochs=epochs, min_steps=min_steps, hidden=hidden,
                                      head=(hidden,), head_dropout=0.0, pairs_per_arch=0.0, batch_size=128,
                                      cell_form=cell_form)
        self.n_init, self.batch_size = n_init, batch_size
        self.top_k, self.pool_mutations, self.pool_random = top_k, pool_mutations, pool_random
        self.prefilter = make_prefilter(space, rng, zs_prefilter)

    def ask(self, n: int) -> list[Arch]:
        if len(self.archs) < self.n_init:
            self.proposal_info = []
            return self.query_rule.sample(min(n, self.n_init - len(self.archs)), self.rng)
        started = time.perf_counter()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small models on small batches: threads cost more than they give
        try:
            predictor = RankingPredictor(self.config, seed=int(self.rng.integers(2**31)))
            predictor.fit(graph_tensors(self.space, self.archs), np.asarray(self.observed))
            candidates = candidate_pool(self.space, self.archs, self.observed, self.rng, rule=self.query_rule, top_k=self.top_k,
                                        mutations=self.pool_mutations, random=self.pool_random)
            if self.prefilter is not None:
                candidates = self.prefilter(candidates)
            scores = predictor.predict(graph_tensors(self.space, candidates))
        finally:
            torch.set_num_threads(threads)
        order = np.argsort(-scores, kind="stable")[:n]
        seconds = (time.perf_counter() - started) / len(order)
        self.proposal_info = [{"predicted_acc": float("nan"), "predicted_std": float("nan"), "surrogate_s": seconds}
                              for _ in order]
        return [candidates[int(i)] for i in order]
