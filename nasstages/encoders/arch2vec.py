"""arch2vec (Yan et al., NeurIPS 2020): a variational graph isomorphism autoencoder over cells.

Encoder (Eq. 1 of the paper): L GIN layers on Ã = A + Aᵀ and one-hot ops X,
    H^(k) = MLP^(k)((1 + ε^(k)) · H^(k−1) + Ã · H^(k−1)),   H^(0) = X,
then a Gaussian posterior per node, q(z_i | A, X) = N(μ_i, diag σ_i²), with μ and log σ linear in H^(L).
Decoder (Eq. 2): p(A_ij = 1 | z) = σ(z_iᵀ z_j) and the ops from W z_i + b.
Loss (Eq. 3): −ELBO = op reconstruction + adjacency binary cross-entropy + KL(q ‖ N(0, I)).
Nodes are topologically ordered, so only the strict upper triangle of A is reconstructed.
An architecture's embedding is the mean of its nodes' μ (as the paper's search code does).

Defaults are the reference NB201 pretraining (AIoT-MLSys-Lab/arch2vec
``models/pretraining_nasbench201.py`` with ``--cfg 4`` of ``models/configs.py`` and ``Model``,
``Decoder``, ``VAEReconstructed_Loss`` of ``models/model.py``):

* ``--hops 5`` builds hops − 1 = 4 GIN layers (``Model.__init__`` loops ``range(num_hops − 1)``),
  each a 2-layer MLP with batch norm and ReLU, hidden 128, latent 16; Adam 1e-3, batch 32, 10 epochs;
* the encoder's second head is log σ, not log σ²: ``reparameterize`` draws z = μ + ε·exp(logvar)
  and the KL uses 2·logvar and exp(logvar)² (``std_parameterization: log_std``);
* the decoder applies dropout 0.3 to z in training (``Decoder.forward``), then a *sigmoid* to the
  op scores too (it applies ``activation_adj`` to both outputs), trained with BCE against the
  one-hot ops (``ops_decoder: sigmoid``; Eq. 2's softmax with cross-entropy is ``softmax``);
* the loss is BCE(ops) averaged over n·|V| entries + BCE(adjacency) averaged over all n² entries
  of the triu'd matrices (``prep`` method 4's reverse) + the KL summed over latent dimensions,
  averaged over nodes and scaled by 1/(B·n) (``loss_normalization: reference``; ``beta`` None);
* gradients are clipped to norm 5 (``clip_grad_norm_``);
* its first validity check (after epoch 1) calls ``model.eval()`` and never ``model.train()``
  again, so from epoch 2 on the script trains in eval mode: batch norm on the running statistics
  frozen after epoch 1, no dropout, z = μ. The published validity and uniqueness come from this
  training, and the reference search scripts load its model, so it is the default
  (``eval_mode_after: 1``).

The NB101 script (``models/pretraining_nasbench101.py``, ``--cfg 4``) has the same settings and the
same ``model.eval()`` after its first epoch, with 8 epochs (``configs/nb101.yaml``).

Not followed: the script trains on the first 90% of its dataset's indices in one fixed shuffled
order, we on a seeded random 90% reshuffled each epoch. Named variants (``variant:``):
``paper`` trains as Eq. 3 describes throughout (``eval_mode_after: 0``: sampled z, dropout and
batch statistics in every epoch), :data:`EARLIER` (``earlier``) is our model before it followed
the script (5 GIN layers, log σ², softmax ops, no dropout, per-term means with β 0.005, no clipping,
train mode throughout).
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


OPS_DECODERS = ("sigmoid", "softmax")
LOSS_NORMALIZATIONS = ("reference", "per_term")
STD_PARAMETERIZATIONS = ("log_std", "log_var")


@dataclass(frozen=True)
class Arch2vecConfig:
    """Hyperparameters; defaults are the reference NB201 pretraining's (module docstring)."""

    hidden: int = 128
    latent: int = 16
    layers: int = 4            # GIN layers: the reference's --hops 5 builds hops - 1
    mlp_layers: int = 2
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    beta: float | None = None  # weight of the KL term; None: the reference's 1/(B·n)
    holdout: float = 0.1       # fraction of cells kept out of training to measure reconstruction
    prior_samples: int = 10000  # decoded samples for validity / uniqueness
    decoder_dropout: float = 0.3
    ops_decoder: str = "sigmoid"
    loss_normalization: str = "reference"
    std_parameterization: str = "log_std"
    grad_clip: float = 5.0     # max gradient norm (0: off)
    # eval_mode_after: from this 0-based epoch on train in eval mode, as the NB201 script does from
    # its second (1): batch norm on frozen running statistics, no dropout, z = μ (0: never).
    # deterministic_after: an ablation, z = μ from this epoch on, batch norm and dropout as trained
    eval_mode_after: int = 1
    deterministic_after: int = 0

    def __post_init__(self) -> None:
        from nasstages.errors import ConfigError

        if self.deterministic_after < 0 or self.eval_mode_after < 0:
            raise ConfigError("arch2vec deterministic_after and eval_mode_after must be >= 0 (0: off), not "
                              f"{self.deterministic_after!r}, {self.eval_mode_after!r}")
        for key, allowed in (("ops_decoder", OPS_DECODERS), ("loss_normalization", LOSS_NORMALIZATIONS),
                             ("std_parameterization", STD_PARAMETERIZATIONS)):
            if getattr(self, key) not in allowed:
                raise ConfigError(f"arch2vec {key} must be one of {list(allowed)}, not {getattr(self, key)!r}")
        if not 0 <= self.decoder_dropout < 1 or self.grad_clip < 0 or (self.beta is not None and self.beta < 0):
            raise ConfigError("arch2vec decoder_dropout must be in [0, 1), grad_clip >= 0 and beta >= 0 or null")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "Arch2vecConfig":
        """From a config mapping; ``variant: earlier`` starts from :data:`EARLIER` instead of the
        reference settings (keys beside it still override)."""
        from nasstages.errors import ConfigError, reject_unknown_keys

        params = dict(params)
        variant = params.pop("variant", "reference")
        if variant not in VARIANTS:
            raise ConfigError(f"arch2vec variant must be one of {sorted(VARIANTS)}, not {variant!r}")
        reject_unknown_keys(params, set(cls.__dataclass_fields__), "arch2vec")
        return cls(**{**VARIANTS[variant], **params})


# our earlier model, before it followed the reference script (kept as ``variant: earlier``)
EARLIER: dict[str, Any] = {"layers": 5, "beta": 0.005, "decoder_dropout": 0.0, "ops_decoder": "softmax",
                           "loss_normalization": "per_term", "std_parameterization": "log_var", "grad_clip": 0.0,
                           "eval_mode_after": 0}
VARIANTS: dict[str, dict[str, Any]] = {"reference": {}, "paper": {"eval_mode_after": 0}, "earlier": EARLIER}


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
        self.decoder_dropout = config.decoder_dropout
        self.log_std = config.std_parameterization == "log_std"

    def encode(self, adjacency: torch.Tensor, ops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-node μ and the scale head (log σ or log σ², by ``std_parameterization``)."""
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
            z = mu + noise * torch.exp(logvar if self.log_std else 0.5 * logvar)
        else:
            z = mu
        if self.decoder_dropout and self.training:  # the reference's Decoder.forward: F.dropout on z
            z = F.dropout(z, p=self.decoder_dropout, training=True)
        ops_logits, adjacency_logits = self.decode(z)
        return ops_logits, adjacency_logits, mu, logvar


def vgae_loss(model_out, adjacency: torch.Tensor, ops: torch.Tensor, config: Arch2vecConfig
              ) -> dict[str, torch.Tensor]:
    """−ELBO terms under ``config``'s decoder and normalization (module docstring).

    ``reference``: BCE(ops) over n·|V| entries + BCE(adjacency) over the n² entries of the triu'd
    matrices (entries off the strict upper triangle are 0 in both, so they add 0) + KL/(B·n), as
    ``VAEReconstructed_Loss``; ``per_term``: ops per node, adjacency per upper-triangle pair and β·KL."""
    ops_logits, adjacency_logits, mu, logvar = model_out
    batch, n = adjacency.shape[0], adjacency.shape[1]
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=adjacency.device), diagonal=1)
    if config.ops_decoder == "sigmoid":
        ops_term = F.binary_cross_entropy_with_logits(ops_logits, ops)
    else:
        ops_term = F.cross_entropy(ops_logits.reshape(-1, ops.shape[-1]), ops.argmax(-1).reshape(-1))
    adjacency_bce = F.binary_cross_entropy_with_logits(adjacency_logits[:, upper], adjacency[:, upper])
    if config.loss_normalization == "reference":
        adjacency_bce = adjacency_bce * (int(upper.sum()) / (n * n))
    if config.std_parameterization == "log_std":
        kl_sum = torch.sum(1 + 2 * logvar - mu.pow(2) - torch.exp(2 * logvar), dim=-1)
    else:
        kl_sum = torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)
    kl = -0.5 * torch.mean(kl_sum)
    beta = config.beta if config.beta is not None else 1.0 / (batch * n)
    return {"loss": ops_term + adjacency_bce + beta * kl, "ops_ce": ops_term, "adjacency_bce": adjacency_bce,
            "kl": kl}


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
        config = Arch2vecConfig(**{**EARLIER, **state["config"]})  # a model saved before these keys: earlier
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
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        # the global generator: nn.Module initializers, then the decoder's dropout masks
        torch.manual_seed(seed)
        model = Arch2vec(graphs.ops.shape[-1], config).to(device)
        history = _train_epochs(model, config, graphs, train_index, rng, generator, show_progress)
    model.eval()
    return TrainedArch2vec(model, config, graphs.vocabulary, graphs.adjacency.shape[1], history, train_index,
                           holdout_index, time.perf_counter() - started)


def _train_epochs(model: Arch2vec, config: Arch2vecConfig, graphs: GraphTensors, train_index: np.ndarray,
                  rng: np.random.Generator, generator: torch.Generator, show_progress: bool
                  ) -> list[dict[str, float]]:
    """The epochs of :func:`train_arch2vec`: Adam on −ELBO, gradients clipped as the reference's."""
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    adjacency_all = torch.as_tensor(graphs.adjacency[train_index], device=device)
    ops_all = torch.as_tensor(graphs.ops[train_index], device=device)
    history: list[dict[str, float]] = []
    epochs = range(config.epochs)
    if show_progress:
        from tqdm import tqdm

        epochs = tqdm(epochs, desc="arch2vec epochs", unit="epoch")
    for epoch in epochs:
        eval_mode = bool(config.eval_mode_after) and epoch >= config.eval_mode_after
        model.train(not eval_mode)
        permutation = torch.as_tensor(rng.permutation(len(train_index)), device=device)
        # z ~ q, or z = μ (the reference's reparameterize in eval mode)
        sample = not eval_mode and not (config.deterministic_after and epoch >= config.deterministic_after)
        sums = {"loss": 0.0, "ops_ce": 0.0, "adjacency_bce": 0.0, "kl": 0.0}
        batches = 0
        for start in range(0, len(train_index), config.batch_size):
            batch = permutation[start:start + config.batch_size]
            if len(batch) < 2:  # batch norm needs two graphs
                continue
            terms = vgae_loss(model(adjacency_all[batch], ops_all[batch], generator, sample=sample),
                              adjacency_all[batch], ops_all[batch], config)
            optimizer.zero_grad()
            terms["loss"].backward()
            if config.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            for key in sums:
                sums[key] += float(terms[key].detach())
            batches += 1
        history.append({"epoch": epoch + 1, **{k: v / max(batches, 1) for k, v in sums.items()}})
        log.info("arch2vec epoch %d: %s", epoch + 1,
                 ", ".join(f"{k} {v:.4f}" for k, v in history[-1].items() if k != "epoch"))
    return history
