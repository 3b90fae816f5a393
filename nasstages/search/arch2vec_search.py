"""Search in arch2vec's pretrained latent space (Yan et al., NeurIPS 2020, Sec. 3.3).

Both methods search over the embedded cells of the space (every NB201 cell) and never re-query one.
- ``arch2vec_bo``: DNGO on the embeddings of evaluated cells, expected improvement over all
  unevaluated cells, the top ``batch_size`` per round (the reference script's settings, see
  :class:`Arch2vecBO`; ``arch2vec_bo_fast``: our earlier ones).
- ``arch2vec_rl``: REINFORCE with a Gaussian policy in the latent space whose mean an LSTM cell
  emits from the previous choice; a sampled point is mapped to the nearest unevaluated embedding,
  the reward is its accuracy (the reference script's settings, see :class:`Arch2vecRL`;
  ``arch2vec_rl_ema``: our earlier ones).
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from nasstages.benchmarks.base import Evaluation
from nasstages.encoders.store import read_embeddings
from nasstages.errors import ConfigError
from nasstages.search.acquisition import expected_improvement
from nasstages.search.base import Optimizer
from nasstages.spaces import Arch, SearchSpace
from nasstages.surrogates.dngo import DNGO


class _EmbeddedSpace(Optimizer):
    """Common part: the embedding table, evaluated rows and their observed accuracies."""

    requires = {"single_cell": "arch2vec embeds one fixed-size cell graph"}

    def __init__(self, space: SearchSpace, rng: np.random.Generator, embeddings: str) -> None:
        super().__init__(space, rng)
        if not embeddings:
            raise ConfigError(f"{type(self).__name__}: set the 'embeddings' parameter to the pretrain stage's "
                              "HDF5 file (the workflow fills it in)")
        table = read_embeddings(embeddings)
        if table.space != space.name:
            raise ConfigError(f"{embeddings} embeds space {table.space!r}, not {space.name!r}")
        self.strings = table.archs
        self.vectors = table.vectors
        self.row_of = {s: k for k, s in enumerate(self.strings)}
        self.rows: list[int] = []
        self.observed: list[float] = []

    def unevaluated(self) -> np.ndarray:
        """Rows the query rule allows (under ``string``: every cell not queried yet)."""
        rule = self.query_rule
        if rule.name == "none":
            return np.arange(len(self.strings))
        if rule.name == "string":
            mask = np.ones(len(self.strings), dtype=bool)
            mask[self.rows] = False
            return np.flatnonzero(mask)
        keys = self.__dict__.setdefault("_rule_keys", [rule.key(self.space.from_string(s)) for s in self.strings])
        return np.array([r for r, key in enumerate(keys) if key not in rule.queried], dtype=np.int64)

    def tell(self, archs: Sequence[Arch], evaluations: Sequence[Evaluation]) -> None:
        rows = [self.row_of[self.space.to_string(a)] for a in archs]
        self.rows += rows
        self.observed += [e.valid_acc for e in evaluations]
        self._learn(rows, [e.valid_acc for e in evaluations])

    def _learn(self, rows: list[int], rewards: list[float]) -> None:
        """Hook for methods that update a model on each batch of results."""

    def _state(self) -> dict[str, Any]:
        return {"archs": [self.strings[r] for r in self.rows], "observed": self.observed}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.rows = [self.row_of[s] for s in state["archs"]]
        self.observed = list(state["observed"])


class Arch2vecBO(_EmbeddedSpace):
    """DNGO + expected improvement over every unevaluated embedded cell, ``batch_size`` per round.

    Defaults are the reference NB201 script's (AIoT-MLSys-Lab/arch2vec,
    ``search_methods/dngo_search_NB201_8x8.py``): 16 random initial cells, one proposal a round,
    pybnn's DNGO with 128 units × 100 epochs (mini-batches of 10) on accuracies as fractions without
    output normalization, and EI against the best possible accuracy, 100% (``ei_against: bound``),
    not against the incumbent. The script passes DNGO's predictive *variance* where EI wants a
    standard deviation; we use the standard deviation and say so. Its budget is simulated training
    seconds; ours is the protocol's query count. ``arch2vec_bo_fast`` keeps our earlier setting
    (batches of 5, 50 units × 500 full-batch epochs on standardized targets, EI against the
    incumbent)."""

    param_choices = {"ei_against": ("bound", "incumbent")}
    param_ranges = {"train_batch": (0, None)}  # 0: full batch

    def __init__(self, space: SearchSpace, rng: np.random.Generator, embeddings: str = "", n_init: int = 16,
                 batch_size: int = 1, epochs: int = 100, hidden: int = 128, train_batch: int = 10,
                 normalize_output: bool = False, ei_against: str = "bound") -> None:
        super().__init__(space, rng, embeddings)
        if n_init < 2 or batch_size < 1:
            raise ConfigError("arch2vec_bo: n_init must be at least 2 and batch_size at least 1")
        if ei_against not in ("bound", "incumbent"):
            raise ConfigError(f"arch2vec_bo: ei_against must be bound or incumbent, not {ei_against!r}")
        self.n_init, self.batch_size, self.epochs, self.hidden = n_init, batch_size, epochs, hidden
        self.train_batch, self.normalize_output, self.ei_against = train_batch, normalize_output, ei_against

    def ask(self, n: int) -> list[Arch]:
        free = self.unevaluated()
        if len(self.rows) < self.n_init:
            self.proposal_info = []
            picks = self.rng.choice(free, size=min(n, self.n_init - len(self.rows)), replace=False)
        else:
            started = time.perf_counter()
            # the reference fits accuracies as fractions (valid_accuracy / 100) when it does not normalize
            scale = 1.0 if self.normalize_output else 100.0
            model = DNGO(hidden=self.hidden, epochs=self.epochs, seed=int(self.rng.integers(2**31)),
                         batch_size=self.train_batch or None, normalize_output=self.normalize_output)
            model.fit(self.vectors[self.rows], np.asarray(self.observed) / scale)
            mean, std = model.predict(self.vectors[free])
            best = 100.0 / scale if self.ei_against == "bound" else max(self.observed) / scale
            score = expected_improvement(mean, std**2, best)
            order = np.argsort(-score, kind="stable")[:n]
            picks = free[order]
            seconds = (time.perf_counter() - started) / len(order)
            self.proposal_info = [{"predicted_acc": float(mean[i] * scale), "predicted_std": float(std[i] * scale),
                                   "surrogate_s": seconds} for i in order]
        return [self.space.from_string(self.strings[int(r)]) for r in picks]


class Arch2vecBOFast(Arch2vecBO):
    """Our earlier arch2vec-BO setting, a named variant (see :class:`Arch2vecBO`)."""

    def __init__(self, space: SearchSpace, rng: np.random.Generator, embeddings: str = "", n_init: int = 16,
                 batch_size: int = 5, epochs: int = 500, hidden: int = 50, train_batch: int = 0,
                 normalize_output: bool = True, ei_against: str = "incumbent") -> None:
        super().__init__(space, rng, embeddings, n_init, batch_size, epochs, hidden, train_batch, normalize_output,
                         ei_against)


class _Policy(nn.Module):
    """LSTM cell over the sequence of chosen latents; a linear head gives the Gaussian's mean
    (the reference's ``Policy_LSTM``: ``LSTMCell(latent, 128)`` then ``Linear(128, latent)``)."""

    def __init__(self, latent: int, hidden: int) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(latent, hidden)
        self.mean = nn.Linear(hidden, latent)

    def means(self, inputs: torch.Tensor) -> torch.Tensor:
        """Means for every step given the previous steps' latents (T×latent) -> T×latent."""
        h = torch.zeros(1, self.cell.hidden_size)
        c = torch.zeros(1, self.cell.hidden_size)
        out = []
        for x in inputs:
            h, c = self.cell(x.unsqueeze(0), (h, c))
            out.append(self.mean(h)[0])
        return torch.stack(out)


class Arch2vecRL(_EmbeddedSpace):
    """REINFORCE (Williams 1992) in the latent space: ∇J ≈ mean_t (r_t − b) ∇ log N(z_t; μ_θ(h_t), σ²I).

    Defaults are the reference NB201 script's (AIoT-MLSys-Lab/arch2vec,
    ``search_methods/reinforce_search_NB201_8x8.py``): ``Policy_LSTM`` with 128 hidden units;
    ``select_action`` samples N(μ, 1·I) in the raw latent (the encoder means, not standardized);
    ``Env.step`` maps the sample to the nearest unvisited embedding (the script's loop starts
    at the second-nearest, ``count = 1``, a slip its NB101 version does not have: we take the
    nearest); episodes of ``--bs 16`` steps, after each one ``finish_episode`` takes one Adam step
    (lr 1e-2) on the mean of −log p · (r − b) with the constant ``--baseline 0.4`` and resets the
    LSTM state; the reward is validation accuracy / 100; the first input is a random
    architecture's embedding (``get_init_state``), not queried. The budget is our protocol's
    query count (the script counts simulated training seconds).

    ``arch2vec_rl_ema`` keeps our earlier setting: σ 0.5 in standardized units, a moving-average
    baseline (``baseline: ema``, ``baseline_decay`` 0.95), an update per query, 64 hidden units and
    one LSTM sequence over the whole run (``episode_reset: false``).
    """

    param_choices = {"latent": ("raw", "standardized")}

    def __init__(self, space: SearchSpace, rng: np.random.Generator, embeddings: str = "", hidden: int = 128,
                 sigma: float = 1.0, lr: float = 0.01, baseline: float | str = 0.4, baseline_decay: float = 0.95,
                 batch_size: int = 16, latent: str = "raw", episode_reset: bool = True) -> None:
        super().__init__(space, rng, embeddings)
        if sigma <= 0 or not 0 <= baseline_decay < 1:
            raise ConfigError("arch2vec_rl: sigma must be positive and baseline_decay in [0, 1)")
        if baseline != "ema" and not isinstance(baseline, (int, float)):
            raise ConfigError(f"arch2vec_rl: baseline must be a number or 'ema', not {baseline!r}")
        if latent not in ("raw", "standardized") or batch_size < 1 or hidden < 1:
            raise ConfigError("arch2vec_rl: latent must be 'raw' or 'standardized', batch_size and hidden >= 1")
        self.sigma, self.lr, self.decay, self.batch_size, self.hidden = sigma, lr, baseline_decay, batch_size, hidden
        self.constant_baseline = None if baseline == "ema" else float(baseline)
        self.episode_reset = bool(episode_reset)
        vectors = np.asarray(self.vectors, dtype=np.float64)
        if latent == "standardized":  # σ in standardized units
            vectors = (vectors - vectors.mean(axis=0)) / (vectors.std(axis=0) + 1e-8)
        self.latents = vectors.astype(np.float32)
        self.initial_row = int(rng.integers(len(self.strings)))  # the first input, not queried
        self.torch_seed = int(rng.integers(2**31))
        self._reset_policy()
        self.samples: list[list[float]] = []  # the sampled z of every step, for REINFORCE and replay
        self.batches: list[int] = []          # steps per update, to replay updates on resume

    def _reset_policy(self) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.torch_seed)
            self.policy = _Policy(self.latents.shape[1], self.hidden)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.lr)
        self.baseline: float | None = self.constant_baseline

    def _inputs(self, start: int, chosen_rows: list[int]) -> torch.Tensor:
        """LSTM inputs of an episode from step ``start``: the latent chosen just before it (the
        initial state's for the first), then each latent chosen in the episode."""
        first = self.latents[self.rows[start - 1]] if start > 0 else self.latents[self.initial_row]
        return torch.as_tensor(np.stack([first] + [self.latents[r] for r in chosen_rows]))

    def ask(self, n: int) -> list[Arch]:
        free = list(self.unevaluated())
        start = len(self.rows) if self.episode_reset else 0  # each ask is one episode (batch_size)
        picks: list[int] = []
        for _ in range(n):
            with torch.no_grad():
                mean = self.policy.means(self._inputs(start, self.rows[start:] + picks))[-1].numpy()
            z = mean + self.sigma * self.rng.standard_normal(len(mean))
            distances = np.linalg.norm(self.latents[free] - z, axis=1)
            picks.append(int(free.pop(int(np.argmin(distances)))))
            self.samples.append([float(v) for v in z])
        self.proposal_info = []
        return [self.space.from_string(self.strings[r]) for r in picks]

    def _learn(self, rows: list[int], rewards: list[float]) -> None:
        self._update(len(self.rows), rewards)
        self.batches.append(len(rows))

    def _update(self, steps: int, rewards: list[float]) -> None:
        """One REINFORCE step on the last ``len(rewards)`` of ``steps`` steps (accuracy / 100)."""
        reward = np.asarray(rewards, dtype=np.float64) / 100.0
        if self.baseline is None:
            self.baseline = float(reward.mean())
        advantage = torch.as_tensor(reward - self.baseline, dtype=torch.float32)
        first = steps - len(rewards)
        start = first if self.episode_reset else 0
        means = self.policy.means(self._inputs(start, self.rows[start:steps - 1]))[-len(rewards):]
        z = torch.as_tensor(np.asarray(self.samples[first:steps], dtype=np.float32))
        log_prob = -0.5 * torch.sum((z - means) ** 2, dim=1) / self.sigma**2
        loss = -(advantage * log_prob).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if self.constant_baseline is None:
            self.baseline = self.decay * self.baseline + (1 - self.decay) * float(reward.mean())

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "samples": self.samples, "batches": self.batches}

    def _load_state(self, state: dict[str, Any]) -> None:
        """Replay every policy update from the recorded samples: the same weights, exactly."""
        super()._load_state(state)
        self.samples = [list(z) for z in state["samples"]]
        batches = list(state["batches"])
        self._reset_policy()
        self.batches = []
        done = 0
        for size in batches:
            done += size
            self._update(done, self.observed[done - size:done])
            self.batches.append(size)


class Arch2vecRLEMA(Arch2vecRL):
    """Our earlier arch2vec-RL setting, a named variant (see :class:`Arch2vecRL`)."""

    def __init__(self, space: SearchSpace, rng: np.random.Generator, embeddings: str = "", hidden: int = 64,
                 sigma: float = 0.5, lr: float = 0.01, baseline: float | str = "ema", baseline_decay: float = 0.95,
                 batch_size: int = 1, latent: str = "standardized", episode_reset: bool = False) -> None:
        super().__init__(space, rng, embeddings, hidden, sigma, lr, baseline, baseline_decay, batch_size, latent,
                         episode_reset)
