"""arch2vec (Yan et al., NeurIPS 2020): a variational graph isomorphism autoencoder over cells.

Encoder (Eq. 1 of the paper): L GIN layers on Ã = A + Aᵀ and one-hot ops X,
    H^(k) = MLP^(k)((1 + ε^(k)) · H^(k−1) + Ã · H^(k−1)),   H^(0) = X,
then a Gaussian posterior per node, q(z_i | A, X) = N(μ_i, diag σ_i²), with μ, log σ² linear in H^(L).
Decoder (Eq. 2): p(A_ij = 1 | z) = σ(z_iᵀ z_j) and p(x_i | z_i) = softmax(W z_i + b).
Loss (Eq. 3): −ELBO = op cross-entropy + adjacency binary cross-entropy + β · KL(q ‖ N(0, I)).
Nodes are topologically ordered, so only the strict upper triangle of A is reconstructed.
An architecture's embedding is the mean of its nodes' μ (as the paper's search code does).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nasstages.encoders.graphs import GraphTensors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Arch2vecConfig:
    """Hyperparameters; defaults are the paper's NB201 settings (hidden 128, latent 16, 5 GIN
    layers of 2-layer MLPs, Adam 1e-3, batch 32) except ``epochs`` and ``beta`` (see README)."""

    hidden: int = 128
    latent: int = 16
    layers: int = 5
    mlp_layers: int = 2
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    beta: float = 0.005        # weight of the KL term
    holdout: float = 0.1       # fraction of cells kept out of training to measure reconstruction
    prior_samples: int = 10000  # decoded samples from N(0, I) for validity / uniqueness
    # ablation of a reference-code quirk (0: off): from this epoch on, z = μ. arch2vec's NB201 script
    # calls model.eval() for its validity check after epoch 1 and never model.train() again, so its
    # reparameterize() returns μ for the remaining epochs (and its dropout is off)
    deterministic_after: int = 0

    def __post_init__(self) -> None:
        if self.deterministic_after < 0:
            from nasstages.errors import ConfigError

            raise ConfigError(f"arch2vec deterministic_after must be >= 0 (0: off), not {self.deterministic_after!r}")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "Arch2vecConfig":
        from nasstages.errors import reject_unknown_keys

        reject_unknown_keys(params, set(cls.__dataclass_fields__), "arch2vec")
        return cls(**params)


class GINLayer(nn.Module):
    """One GIN update, MLP((1 + ε)·H + Ã·H), with batch norm over all nodes of the batch."""

    def __init__(self, d_in: int, hidden: int, mlp_layers: int) -> None:
        super().__init__()
        self.eps = nn.Parameter(torch.zeros(1))
        blocks: list[nn.Module] = []
        for k in range(mlp_layers):
            blocks += [nn.Linear(d_in if k == 0 else hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
        self.mlp = nn.Sequential(*blocks)

    def forward(self, h: torch.Tensor, adjacency_sym: torch.Tensor) -> torch.Tensor:
        mixed = (1 + self.eps) * h + adjacency_sym @ h
        b, n, d = mixed.shape
        return self.mlp(mixed.reshape(b * n, d)).reshape(b, n, -1)


class Arch2vec(nn.Module):
    """The VGAE: GIN encoder to per-node (μ, log σ²), inner-product and softmax decoders."""

    def __init__(self, n_ops: int, config: Arch2vecConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            GINLayer(n_ops if k == 0 else config.hidden, config.hidden, config.mlp_layers) for k in range(config.layers)
        )
        self.mu = nn.Linear(config.hidden, config.latent)
        self.logvar = nn.Linear(config.hidden, config.latent)
        self.ops_head = nn.Linear(config.latent, n_ops)

    def encode(self, adjacency: torch.Tensor, ops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        adjacency_sym = adjacency + adjacency.transpose(1, 2)
        h = ops
        for layer in self.layers:
            h = layer(h, adjacency_sym)
        return self.mu(h), self.logvar(h)

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits of the ops (B, n, |V|) and of the adjacency (B, n, n)."""
        return self.ops_head(z), z @ z.transpose(1, 2)

    def forward(self, adjacency: torch.Tensor, ops: torch.Tensor, generator: torch.Generator | None = None,
                sample: bool = True):
        mu, logvar = self.encode(adjacency, ops)
        if sample:
            noise = (torch.randn(mu.shape, generator=generator, device=mu.device) if generator is not None
                     else torch.randn_like(mu))
            z = mu + noise * torch.exp(0.5 * logvar)
        else:
            z = mu
        ops_logits, adjacency_logits = self.decode(z)
        return ops_logits, adjacency_logits, mu, logvar


def vgae_loss(model_out, adjacency: torch.Tensor, ops: torch.Tensor, beta: float) -> dict[str, torch.Tensor]:
    """−ELBO terms, each averaged per node (ops, KL) or per upper-triangle pair (adjacency)."""
    ops_logits, adjacency_logits, mu, logvar = model_out
    n = adjacency.shape[1]
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=adjacency.device), diagonal=1)
    ops_ce = F.cross_entropy(ops_logits.reshape(-1, ops.shape[-1]), ops.argmax(-1).reshape(-1))
    adjacency_bce = F.binary_cross_entropy_with_logits(adjacency_logits[:, upper], adjacency[:, upper])
    kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1))
    return {"loss": ops_ce + adjacency_bce + beta * kl, "ops_ce": ops_ce, "adjacency_bce": adjacency_bce, "kl": kl}


def decode_graphs(model: Arch2vec, z: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Most likely graph of each latent: (adjacency 0/1 upper-triangular, op indices)."""
    ops_logits, adjacency_logits = model.decode(z)
    n = z.shape[1]
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=z.device), diagonal=1)
    adjacency = ((adjacency_logits > 0) & upper).to(torch.uint8)
    return adjacency.cpu().numpy(), ops_logits.argmax(-1).cpu().numpy()


@dataclass
class TrainedArch2vec:
    """A trained model with its configuration, per-epoch history and training seconds."""

    model: Arch2vec
    config: Arch2vecConfig
    vocabulary: tuple[str, ...]
    n_nodes: int
    history: list[dict[str, float]] = field(default_factory=list)
    train_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    holdout_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    seconds: float = 0.0

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def node_means(self, graphs: GraphTensors, batch_size: int = 4096) -> np.ndarray:
        """Posterior means μ of every node, (N, n, latent)."""
        self.model.eval()
        out = []
        for start in range(0, len(graphs), batch_size):
            adjacency, ops = _tensors(graphs, slice(start, start + batch_size), self.device)
            out.append(self.model.encode(adjacency, ops)[0].cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def embed(self, graphs: GraphTensors, batch_size: int = 4096) -> np.ndarray:
        """Mean over nodes of the posterior means μ: one vector per architecture."""
        return self.node_means(graphs, batch_size).mean(axis=1)

    @torch.no_grad()
    def reconstruct(self, graphs: GraphTensors, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Decode each graph from its posterior means: (adjacency, op indices)."""
        return decode_graphs(self.model, torch.as_tensor(self.node_means(graphs, batch_size), device=self.device))

    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the model (torch.save-able)."""
        return {"config": asdict(self.config), "vocabulary": list(self.vocabulary), "n_nodes": self.n_nodes,
                "state_dict": {k: v.cpu() for k, v in self.model.state_dict().items()}}

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str | torch.device = "cpu") -> "TrainedArch2vec":
        config = Arch2vecConfig(**state["config"])
        model = Arch2vec(len(state["vocabulary"]), config)
        model.load_state_dict(state["state_dict"])
        return cls(model.to(device).eval(), config, tuple(state["vocabulary"]), int(state["n_nodes"]))


def _tensors(graphs: GraphTensors, index, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.as_tensor(graphs.adjacency[index], device=device),
            torch.as_tensor(graphs.ops[index], device=device))


def train_arch2vec(graphs: GraphTensors, config: Arch2vecConfig, seed: int, device: str = "cpu",
                   show_progress: bool = False) -> TrainedArch2vec:
    """Train on all of ``graphs`` but a random ``config.holdout`` fraction; deterministic given
    ``seed`` on a fixed device and thread count."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(graphs))
    n_holdout = int(round(config.holdout * len(graphs)))
    holdout_index, train_index = np.sort(order[:n_holdout]), order[n_holdout:]
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # nn.Module initializers draw from the global generator
        model = Arch2vec(graphs.ops.shape[-1], config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    adjacency_all = torch.as_tensor(graphs.adjacency[train_index], device=device)
    ops_all = torch.as_tensor(graphs.ops[train_index], device=device)
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    epochs = range(config.epochs)
    if show_progress:
        from tqdm import tqdm

        epochs = tqdm(epochs, desc="arch2vec epochs", unit="epoch")
    for epoch in epochs:
        model.train()
        permutation = torch.as_tensor(rng.permutation(len(train_index)), device=device)
        sample = not (config.deterministic_after and epoch >= config.deterministic_after)  # z ~ q, or z = μ
        sums = {"loss": 0.0, "ops_ce": 0.0, "adjacency_bce": 0.0, "kl": 0.0}
        batches = 0
        for start in range(0, len(train_index), config.batch_size):
            batch = permutation[start:start + config.batch_size]
            if len(batch) < 2:  # batch norm needs two graphs
                continue
            terms = vgae_loss(model(adjacency_all[batch], ops_all[batch], generator, sample=sample),
                              adjacency_all[batch], ops_all[batch], config.beta)
            optimizer.zero_grad()
            terms["loss"].backward()
            optimizer.step()
            for key in sums:
                sums[key] += float(terms[key].detach())
            batches += 1
        history.append({"epoch": epoch + 1, **{k: v / max(batches, 1) for k, v in sums.items()}})
        log.info("arch2vec epoch %d: %s", epoch + 1, ", ".join(f"{k} {v:.4f}" for k, v in history[-1].items() if k != "epoch"))
    model.eval()
    return TrainedArch2vec(model, config, graphs.vocabulary, graphs.adjacency.shape[1], history, train_index,
                           holdout_index, time.perf_counter() - started)
