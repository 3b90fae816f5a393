"""Ranking predictors (GATES, Ning et al. ECCV 2020; TA-GATES, NeurIPS 2022, in ``tagates``) and the
MLP / LSTM encoder baselines.

GATES encodes a cell by the flow of information through it (Eq. 4 of the paper, op-on-node form):
each node's information is the sum of its predecessors', gated by a soft mask of its operation,
    N_j = σ(EMB(op_j) · W_o) ⊙ Σ_{i→j} N_i W_x,
starting from a learned embedding of the input node; one layer moves information one hop, so a
stack of layers (with residuals) at least as deep as the longest path carries it to the output
node, whose vector is read out by an MLP into a score. Trained with the pairwise hinge ranking loss
Σ_{y_i > y_j} max(0, m − (P(a_i) − P(a_j))) (Eq. 6) or, for comparison, mean squared error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nasstages.encoders.graphs import GraphTensors
from nasstages.encoders.tagates import TAGatesEncoder
from nasstages.errors import ConfigError, reject_unknown_keys

ENCODERS = ("gates", "tagates", "mlp", "lstm")
UPDATED_OPS = ("parametrized", "all")
LOSSES = ("hinge", "mse")


class GatesEncoder(nn.Module):
    """Stacked soft-masked information flow; returns the output node's vector."""

    def __init__(self, n_ops: int, op_dim: int = 48, hidden: int = 128, layers: int = 5) -> None:
        super().__init__()
        self.op_embedding = nn.Embedding(n_ops, op_dim)
        self.input_information = nn.Parameter(torch.randn(hidden) / hidden ** 0.5)
        self.masks = nn.ModuleList(nn.Linear(op_dim, hidden, bias=False) for _ in range(layers))
        self.transforms = nn.ModuleList(nn.Linear(hidden, hidden, bias=False) for _ in range(layers))
        self.out_dim = hidden

    def forward(self, adjacency: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
        b, n, _ = ops.shape
        op_vectors = self.op_embedding(ops.argmax(-1))  # (B, n, op_dim)
        information = torch.zeros(b, n, self.out_dim, device=ops.device, dtype=torch.float32)
        information[:, 0] = self.input_information
        incoming = adjacency.transpose(1, 2)  # row j sums over predecessors i -> j
        for mask, transform in zip(self.masks, self.transforms):
            flowed = torch.sigmoid(mask(op_vectors)) * (incoming @ transform(information))
            flowed[:, 0] = transform(information[:, 0])
            information = information + flowed
        return information[:, -1]


class MLPEncoder(nn.Module):
    """Flattened upper-triangular adjacency and one-hot ops through an MLP (baseline)."""

    def __init__(self, n_nodes: int, n_ops: int, hidden: int = 128, layers: int = 3) -> None:
        super().__init__()
        self.upper = torch.triu_indices(n_nodes, n_nodes, 1)
        d_in = self.upper.shape[1] + n_nodes * n_ops
        blocks: list[nn.Module] = []
        for k in range(layers):
            blocks += [nn.Linear(d_in if k == 0 else hidden, hidden), nn.ReLU()]
        self.net = nn.Sequential(*blocks)
        self.out_dim = hidden

    def forward(self, adjacency: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
        flat = torch.cat([adjacency[:, self.upper[0], self.upper[1]], ops.flatten(1)], dim=1)
        return self.net(flat)


class LSTMEncoder(nn.Module):
    """The node ops in topological order read by an LSTM; its last hidden state (baseline)."""

    def __init__(self, n_ops: int, hidden: int = 100) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_ops, hidden, batch_first=True)
        self.out_dim = hidden

    def forward(self, adjacency: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
        return self.lstm(ops)[1][0][-1]


def longest_path(adjacency: np.ndarray) -> int:
    """Edges on the longest path of any of the (topologically ordered) graphs: the GATES layers
    needed for the input's information to reach the output."""
    longest = 1
    for a in np.unique(np.asarray(adjacency) != 0, axis=0):
        depth = np.zeros(len(a), dtype=int)
        for j in range(1, len(a)):
            sources = np.flatnonzero(a[:j, j])
            depth[j] = depth[sources].max() + 1 if len(sources) else 0
        longest = max(longest, int(depth.max()))
    return longest


class ScoreModel(nn.Module):
    """An encoder followed by a two-layer MLP giving one score per architecture."""

    def __init__(self, encoder: nn.Module, hidden: int = 128) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Sequential(nn.Linear(encoder.out_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, adjacency: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(adjacency, ops)).squeeze(-1)


def pairwise_hinge_loss(scores: torch.Tensor, y: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over ordered pairs with y_i > y_j of max(0, margin − (s_i − s_j)) (GATES Eq. 6)."""
    better = (y[:, None] > y[None, :]).float()
    hinge = F.relu(margin - (scores[:, None] - scores[None, :]))
    return (hinge * better).sum() / better.sum().clamp(min=1.0)


@dataclass(frozen=True)
class PredictorConfig:
    """Training settings: GATES's Adam 1e-3 and margin 0.1, but no weight decay: GATES's 5e-4 (coupled
    L2 under Adam) cost 0.07-0.10 Kendall tau at 5-10% of NB201's training half for GATES and
    TA-GATES alike, and never helped at 0.1-1% (measured, 2 seeds)."""

    encoder: str = "gates"
    loss: str = "hinge"
    epochs: int = 200
    min_steps: int = 400       # tiny training sets still get this many optimizer steps
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    margin: float = 0.1
    hidden: int = 128
    # TA-GATES, as aw_nas's nb201_cfgs/tagates.yaml (see nasstages.encoders.tagates):
    steps: int = 3                  # updates; the reference's num_time_steps 4 = 4 forward passes, 3 updates
    symmetry_breaking: float = 0.1  # scale of the fixed per-position embedding noise (0: off)
    update_scale: float = 0.1       # updateopemb_scale
    updated_ops: str = "parametrized"  # "parametrized" (ops named *conv*, the reference) | "all"
    detach_update_inputs: bool = True  # updateopemb_detach_opemb / _finfo

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ConfigError(f"predictor encoder must be one of {ENCODERS}, not {self.encoder!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"predictor loss must be one of {LOSSES}, not {self.loss!r}")
        if self.steps < 1 or self.symmetry_breaking < 0 or self.update_scale <= 0:
            raise ConfigError(f"predictor steps must be >= 1, symmetry_breaking >= 0 and update_scale > 0, not "
                              f"{self.steps!r} / {self.symmetry_breaking!r} / {self.update_scale!r}")
        if self.updated_ops not in UPDATED_OPS:
            raise ConfigError(f"predictor updated_ops must be one of {UPDATED_OPS}, not {self.updated_ops!r}")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "PredictorConfig":
        reject_unknown_keys(params, set(cls.__dataclass_fields__), "predictor")
        return cls(**params)


class RankingPredictor:
    """fit(graphs, y) then predict(graphs) -> scores whose order estimates the accuracy order."""

    def __init__(self, config: PredictorConfig, seed: int, device: str = "cpu") -> None:
        self.config, self.seed, self.device = config, seed, torch.device(device)
        self.model: ScoreModel | None = None
        self.seconds = 0.0

    def _build(self, graphs: GraphTensors) -> ScoreModel:
        n_nodes, n_ops = graphs.ops.shape[1], graphs.ops.shape[2]
        c = self.config
        if c.encoder == "gates":
            encoder: nn.Module = GatesEncoder(n_ops, hidden=c.hidden, layers=longest_path(graphs.adjacency))
        elif c.encoder == "tagates":
            updated = None if c.updated_ops == "all" else ["conv" in op for op in graphs.vocabulary]
            encoder = TAGatesEncoder(n_ops, n_nodes, hidden=c.hidden, steps=c.steps,
                                     symmetry_breaking=c.symmetry_breaking, update_scale=c.update_scale,
                                     updated_ops=updated, detach_update_inputs=c.detach_update_inputs)
        elif c.encoder == "mlp":
            encoder = MLPEncoder(n_nodes, n_ops, hidden=c.hidden)
        else:
            encoder = LSTMEncoder(n_ops, hidden=c.hidden)
        return ScoreModel(encoder, hidden=c.hidden).to(self.device)

    def fit(self, graphs: GraphTensors, y: np.ndarray) -> "RankingPredictor":
        c = self.config
        started = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.model = self._build(graphs)
        rng = np.random.default_rng(self.seed)
        adjacency = torch.as_tensor(graphs.adjacency, device=self.device)
        ops = torch.as_tensor(graphs.ops, device=self.device)
        target = torch.as_tensor((y - np.mean(y)) / (np.std(y) or 1.0), dtype=torch.float32, device=self.device)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        batches = max(1, -(-len(y) // c.batch_size))
        epochs = max(c.epochs, -(-c.min_steps // batches))
        self.model.train()
        for _ in range(epochs):
            order = torch.as_tensor(rng.permutation(len(y)), device=self.device)
            for start in range(0, len(y), c.batch_size):
                batch = order[start:start + c.batch_size]
                scores = self.model(adjacency[batch], ops[batch])
                if c.loss == "hinge":
                    loss = pairwise_hinge_loss(scores, target[batch], c.margin)
                else:
                    loss = F.mse_loss(scores, target[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.model.eval()
        self.seconds = time.perf_counter() - started
        return self

    @torch.no_grad()
    def predict(self, graphs: GraphTensors, batch_size: int = 8192) -> np.ndarray:
        assert self.model is not None, "fit first"
        out = []
        for start in range(0, len(graphs), batch_size):
            adjacency = torch.as_tensor(graphs.adjacency[start:start + batch_size], device=self.device)
            ops = torch.as_tensor(graphs.ops[start:start + batch_size], device=self.device)
            out.append(self.model(adjacency, ops).cpu().numpy())
        return np.concatenate(out)
