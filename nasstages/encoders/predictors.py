"""Ranking predictors (GATES, Ning et al. ECCV 2020; TA-GATES, NeurIPS 2022, in ``tagates``) and the
MLP / LSTM encoder baselines.

GATES encodes a cell by the flow of information through it (Eq. 4 of the paper, op-on-node form):
each node's information is the sum of its predecessors', gated by a soft mask of its operation,
    N_j = σ(EMB(op_j) · W_o) ⊙ Σ_{i→j} N_i W_x,
starting from a learned embedding of the input node; one layer moves information one hop, so a
stack of layers (with residuals) at least as deep as the longest path carries it to the output
node, whose vector is read out by an MLP into a score. Trained with the pairwise hinge ranking loss
Σ_{y_i > y_j} max(0, m − (P(a_i) − P(a_j))) (Eq. 6) or, for comparison, mean squared error.
On spaces whose ops sit on edges (NB201, TNB101 micro) GATES and TA-GATES read the op-on-edge cell
instead (``cell_form: auto``, :mod:`nasstages.encoders.gates_flow`), as their reference code does on
NB201; the op-on-node form there is the named variant ``cell_form: node`` (our encoders before).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nasstages.encoders.gates_flow import GatesEdgeFlowEncoder, TAGatesEdgeFlowEncoder
from nasstages.encoders.graphs import GraphTensors
from nasstages.encoders.tagates import TAGatesEncoder
from nasstages.errors import ConfigError, reject_unknown_keys

ENCODERS = ("gates", "tagates", "mlp", "lstm")
# The ranking predictors' training as aw_nas runs them on NB201: mlp_hiddens [300] x 5, mlp_dropout 0.1,
# batch_size 512, max_compare_ratio 4.0 (pairs per batch <= 4n), margin_linear 0.1, 200 epochs, in both
# TA-GATES's config (examples/research/tagates/cfgs/nb201_cfgs/tagates.yaml) and aw_nas's NB201 GATES
# predictor config (examples/research/dele/cfgs/train_nb201_gates_config.yaml). The GATES paper's own
# release has only an NB101 config (examples/research/gates/nbc_flow_gcn128x4.yaml: mlp_hiddens [200],
# 80 epochs, same batch and pairs), not applied here.
# The scripts train exactly ``epochs`` epochs (min_steps 0): at 0.1-1% of the training half that is one
# batch an epoch, 200 steps.
_AW_NAS_NB201 = {"head": (300,) * 5, "head_dropout": 0.1, "batch_size": 512, "pairs_per_arch": 4.0, "min_steps": 0}
REFERENCE_TRAINING: dict[str, dict[str, Any]] = {"tagates": _AW_NAS_NB201, "gates": _AW_NAS_NB201}
UPDATED_OPS = ("parametrized", "all")
CELL_FORMS = ("auto", "edge", "node")
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
    """An encoder followed by an MLP head giving one score per architecture: a (Linear, ReLU, Dropout)
    block per width in ``head``, then Linear(·, 1), as aw_nas's ``PointwiseComparator`` builds its
    ``mlp`` from ``mlp_hiddens`` and ``mlp_dropout`` (``aw_nas/evaluator/arch_network.py``)."""

    def __init__(self, encoder: nn.Module, head: tuple[int, ...] = (128,), dropout: float = 0.0) -> None:
        super().__init__()
        self.encoder = encoder
        blocks: list[nn.Module] = []
        width = encoder.out_dim
        for hidden in head:
            blocks += [nn.Linear(width, hidden), nn.ReLU()]
            if dropout > 0:
                blocks.append(nn.Dropout(dropout))
            width = hidden
        self.head = nn.Sequential(*blocks, nn.Linear(width, 1))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(*inputs)).squeeze(-1)


def pairwise_hinge_loss(scores: torch.Tensor, y: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over ordered pairs with y_i > y_j of max(0, margin − (s_i − s_j)) (GATES Eq. 6)."""
    better = (y[:, None] > y[None, :]).float()
    hinge = F.relu(margin - (scores[:, None] - scores[None, :]))
    return (hinge * better).sum() / better.sum().clamp(min=1.0)


def sampled_pairs(y: np.ndarray, ratio: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(better, worse) indices of at most ``ratio · n`` pairs drawn without replacement among the
    batch's pairs whose targets differ, as the TA-GATES training script chooses them
    (``examples/research/tagates/train_nasbench201.py``, ``train``: ``max_compare_ratio`` with
    ``choose_pair_criterion: random``, ``compare_threshold: 0``)."""
    first, second = np.triu_indices(len(y), 1)
    differ = y[first] != y[second]
    first, second = first[differ], second[differ]
    limit = int(ratio * len(y))
    if len(first) > limit:
        keep = rng.choice(len(first), limit, replace=False)
        first, second = first[keep], second[keep]
    first_better = y[first] > y[second]
    return np.where(first_better, first, second), np.where(first_better, second, first)


def sampled_pairs_hinge_loss(scores: torch.Tensor, better: torch.Tensor, worse: torch.Tensor,
                             margin: float) -> torch.Tensor:
    """Mean over the given pairs of max(0, margin − (s_better − s_worse)): aw_nas's ``margin_linear``
    compare loss (``PointwiseComparator.update_compare``) on raw scores."""
    if len(better) == 0:
        return scores.sum() * 0.0
    return F.relu(margin - (scores[better] - scores[worse])).mean()


@dataclass(frozen=True)
class PredictorConfig:
    """Training settings: GATES's Adam 1e-3 and margin 0.1, but no weight decay: GATES's 5e-4 (coupled
    L2 under Adam) cost 0.07-0.10 Kendall tau at 5-10% of NB201's training half for GATES and
    TA-GATES alike, and never helped at 0.1-1% (measured, 2 seeds)."""

    encoder: str = "gates"
    loss: str = "hinge"
    epochs: int = 200
    min_steps: int | None = None  # tiny training sets still get this many steps (None: reference 0, else 400)
    batch_size: int | None = None  # None: the encoder's reference value (GATES, TA-GATES 512; else 128)
    lr: float = 1e-3
    weight_decay: float = 0.0
    margin: float = 0.1
    hidden: int = 128
    # GATES's / TA-GATES's cell: "edge" reads ops on edges (aw_nas's nb201-flow / nb201-fbflow, the reference
    # on NB201), "node" the op-on-node DAG (our encoders before; GATES's NB101 form); "auto": edge where the
    # space has ops on edges
    cell_form: str = "auto"
    # score head and pair sampling; None: the encoder's reference value (REFERENCE_TRAINING)
    head: tuple[int, ...] | None = None   # widths of the head's hidden layers
    head_dropout: float | None = None     # dropout after each hidden layer of the head
    pairs_per_arch: float | None = None   # hinge on <= this x batch random pairs (0: every ordered pair)
    # TA-GATES, as aw_nas's nb201_cfgs/tagates.yaml (see nasstages.encoders.tagates):
    steps: int = 3                  # updates; the reference's num_time_steps 4 = 4 forward passes, 3 updates
    symmetry_breaking: float = 0.1  # scale of the fixed per-position embedding noise (0: off)
    update_scale: float = 0.1       # updateopemb_scale
    updated_ops: str = "parametrized"  # "parametrized" (ops named *conv*, the reference) | "all"
    detach_update_inputs: bool = True  # updateopemb_detach_opemb / _finfo

    def __post_init__(self) -> None:
        reference = REFERENCE_TRAINING.get(self.encoder, {})
        resolved = {"batch_size": 128, "head": (self.hidden,), "head_dropout": 0.0, "pairs_per_arch": 0.0,
                    "min_steps": 400, **reference}
        for name, default in resolved.items():  # frozen: set the resolved defaults once, here
            value = getattr(self, name)
            object.__setattr__(self, name, default if value is None else value)
        object.__setattr__(self, "head", tuple(int(width) for width in self.head))
        if self.min_steps < 0:
            raise ConfigError(f"predictor min_steps must be >= 0, not {self.min_steps!r}")
        if (self.batch_size < 1 or not self.head or min(self.head) < 1 or not 0 <= self.head_dropout < 1
                or self.pairs_per_arch < 0):
            raise ConfigError(f"predictor batch_size must be >= 1, head a non-empty list of widths >= 1, "
                              f"head_dropout in [0, 1) and pairs_per_arch >= 0, not {self.batch_size!r} / "
                              f"{list(self.head)!r} / {self.head_dropout!r} / {self.pairs_per_arch!r}")
        if self.encoder not in ENCODERS:
            raise ConfigError(f"predictor encoder must be one of {ENCODERS}, not {self.encoder!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"predictor loss must be one of {LOSSES}, not {self.loss!r}")
        if self.steps < 1 or self.symmetry_breaking < 0 or self.update_scale <= 0:
            raise ConfigError(f"predictor steps must be >= 1, symmetry_breaking >= 0 and update_scale > 0, not "
                              f"{self.steps!r} / {self.symmetry_breaking!r} / {self.update_scale!r}")
        if self.cell_form not in CELL_FORMS:
            raise ConfigError(f"predictor cell_form must be one of {CELL_FORMS}, not {self.cell_form!r}")
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
        if self.reads_edges(graphs):
            assert graphs.edge_ops is not None and graphs.edge_vocabulary is not None
            edge_ops = len(graphs.edge_vocabulary)
            if c.encoder == "gates":
                encoder: nn.Module = GatesEdgeFlowEncoder(edge_ops, layers=(c.hidden,) * 5)
            else:
                updated = None if c.updated_ops == "all" else ["conv" in op for op in graphs.edge_vocabulary]
                encoder = TAGatesEdgeFlowEncoder(edge_ops, graphs.edge_ops.shape[1], width=c.hidden, steps=c.steps,
                                                 symmetry_breaking=c.symmetry_breaking, update_scale=c.update_scale,
                                                 updated_ops=updated, detach_update_inputs=c.detach_update_inputs)
        elif c.encoder == "gates":
            encoder = GatesEncoder(n_ops, hidden=c.hidden, layers=longest_path(graphs.adjacency))
        elif c.encoder == "tagates":
            updated = None if c.updated_ops == "all" else ["conv" in op for op in graphs.vocabulary]
            encoder = TAGatesEncoder(n_ops, n_nodes, hidden=c.hidden, steps=c.steps,
                                     symmetry_breaking=c.symmetry_breaking, update_scale=c.update_scale,
                                     updated_ops=updated, detach_update_inputs=c.detach_update_inputs)
        elif c.encoder == "mlp":
            encoder = MLPEncoder(n_nodes, n_ops, hidden=c.hidden)
        else:
            encoder = LSTMEncoder(n_ops, hidden=c.hidden)
        return ScoreModel(encoder, head=c.head, dropout=c.head_dropout).to(self.device)

    def reads_edges(self, graphs: GraphTensors) -> bool:
        """Whether the model reads ``graphs``' op-on-edge form (GATES / TA-GATES, ``cell_form`` edge or auto)."""
        c = self.config
        if c.encoder not in ("gates", "tagates") or c.cell_form == "node":
            return False
        if graphs.edge_ops is None and c.cell_form == "edge":
            raise ConfigError("predictor cell_form 'edge' needs a space with ops on edges (NB201, TNB101 micro); "
                              "use cell_form 'node' or 'auto'")
        return graphs.edge_ops is not None

    def _inputs(self, graphs: GraphTensors) -> tuple[torch.Tensor, ...]:
        """What the encoder reads, on the device: the op-on-edge matrix, or adjacency and one-hot ops."""
        if self.reads_edges(graphs):
            return (torch.as_tensor(graphs.edge_ops, dtype=torch.long, device=self.device),)
        return (torch.as_tensor(graphs.adjacency, device=self.device), torch.as_tensor(graphs.ops, device=self.device))

    def fit(self, graphs: GraphTensors, y: np.ndarray) -> "RankingPredictor":
        started = time.perf_counter()
        # the seed fixes the initial weights and the head's dropout masks; the global CPU stream is left as it was
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.model = self._build(graphs)
            self._train(graphs, y)
        self.seconds = time.perf_counter() - started
        return self

    def _train(self, graphs: GraphTensors, y: np.ndarray) -> None:
        c = self.config
        assert self.model is not None
        rng = np.random.default_rng(self.seed)
        inputs = self._inputs(graphs)
        y_standard = ((y - np.mean(y)) / (np.std(y) or 1.0)).astype(np.float32)
        target = torch.as_tensor(y_standard, device=self.device)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        batches = max(1, -(-len(y) // c.batch_size))
        epochs = max(c.epochs, -(-c.min_steps // batches))
        self.model.train()
        for _ in range(epochs):
            permutation = rng.permutation(len(y))
            order = torch.as_tensor(permutation, device=self.device)
            for start in range(0, len(y), c.batch_size):
                batch = order[start:start + c.batch_size]
                scores = self.model(*(tensor[batch] for tensor in inputs))
                if c.loss == "hinge" and c.pairs_per_arch > 0:
                    # the batch's targets from the host-side permutation: no device round trip per step
                    batch_y = y_standard[permutation[start:start + c.batch_size]]
                    better, worse = sampled_pairs(batch_y, c.pairs_per_arch, rng)
                    loss = sampled_pairs_hinge_loss(scores, torch.as_tensor(better, device=self.device),
                                                    torch.as_tensor(worse, device=self.device), c.margin)
                elif c.loss == "hinge":
                    loss = pairwise_hinge_loss(scores, target[batch], c.margin)
                else:
                    loss = F.mse_loss(scores, target[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.model.eval()

    @torch.no_grad()
    def predict(self, graphs: GraphTensors, batch_size: int = 8192) -> np.ndarray:
        assert self.model is not None, "fit first"
        inputs = self._inputs(graphs)
        out = []
        for start in range(0, len(graphs), batch_size):
            out.append(self.model(*(tensor[start:start + batch_size] for tensor in inputs)).cpu().numpy())
        return np.concatenate(out)
