"""TA-GATES (Ning, Zhou et al., NeurIPS 2022): an architecture encoding that mimics training.

GATES encodes a cell by one forward flow of information. An architecture's quality, though, comes
from how its parameters are *trained*, so TA-GATES repeats T times, in the op-on-node form used here:

    forward   N_j = σ(E_j W_m) ⊙ (Σ_{i→j} N_i) W_x                       (GATES flow, node order)
    backward  G_out = W_o N_out;  G_i = Σ_{i→j} σ(E_j W_b) ⊙ G_j W_g       (reverse order, like ∂L/∂N_i)
    update    E_j ← E_j + s · m_j · U([E_j, Σ_{i→j} N_i, G_j])             (like ΔW ∝ input ⊗ output-gradient)

where E_j is the embedding of node j's operation, starting from EMB(op_j). The encoding is the output
node's information after a final forward pass with the updated embeddings.

Defaults as the reference code runs NB201 (aw_nas, ``examples/research/tagates/cfgs/nb201_cfgs/
tagates.yaml`` with ``NB201FBFlowArchEmbedder`` in ``aw_nas/btcs/nasbench_201.py``): 4 time steps
(``num_time_steps: 4``: four forward passes, three updates, so ``steps = 3`` here), update scale
s = 0.1 (``updateopemb_scale``), the update applied only to parametrized operations (m_j = 1 for ops
whose name contains "conv", 0 otherwise: ``_parametrized_op_emb``; skip and pooling have no weights to
train), and U's inputs E_j and Σ N_i detached (``updateopemb_detach_opemb``, ``updateopemb_detach_finfo``)
so the update learns from the backward signal. The reference puts ops on edges (NB201's native form),
and so does our default there (:class:`nasstages.encoders.gates_flow.TAGatesEdgeFlowEncoder`,
``cell_form: auto``); this module is the op-on-node form, for spaces with ops on nodes (NB101) and as
the named variant ``cell_form: node`` on NB201, where each non-input/output node is one NB201 edge.
Training as the same config and ``train_nasbench201.py`` (set in
``predictors.REFERENCE_TRAINING``): a score head of five 300-unit ReLU layers with dropout 0.1
(``mlp_hiddens``, ``mlp_dropout``), batches of 512, and the hinge (``margin_linear``, margin 0.1) on at
most 4n random pairs of differing accuracy per batch (``max_compare_ratio: 4.0``); our earlier training
(one 128-unit head layer, every ordered pair of a 128 batch) is ``head: [128], head_dropout: 0,
pairs_per_arch: 0, batch_size: 128``.

Symmetry breaking: two operations of one type at symmetric positions (same predecessors and
successors) receive identical flows and updates, so their embeddings never differ, where real training
separates them by random initialization. The paper's NB201 setting (``symmetry_breaking_method:
param_zs``) concatenates 7 zero-shot statistics of each op's initialized parameters to E_j; the
reference code reads them from the authors' data pickle (``nasbench201_zsall_*.pkl``), not computed
by any public code, so they cannot be reproduced exactly here. We use the reference's other option in
a deterministic form: a random vector per node position (drawn from the model's seed, scale
``symmetry_breaking`` = 0.1 as the reference's ``random`` noise, not trained) added to E_j before the
first step; the reference's ``random`` draws fresh noise at every forward pass, which makes
predictions stochastic at test time.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def updated_ops_mask(n_ops: int, updated_ops: Sequence[bool] | None) -> torch.Tensor:
    """One flag per op type: may an update change its embedding (all ones when ``updated_ops`` is None)."""
    mask = torch.ones(n_ops) if updated_ops is None else torch.tensor([float(u) for u in updated_ops])
    if mask.shape != (n_ops,):
        raise ValueError(f"updated_ops needs one flag per op type ({n_ops}), not {len(mask)}")
    return mask


class TAGatesEncoder(nn.Module):
    """``steps`` forward / backward / update rounds over the op embeddings; returns the output node's
    information from the final forward pass. Node 0 is the input, the last node the output; nodes are
    topologically ordered (adjacency strictly upper triangular)."""

    def __init__(self, n_ops: int, n_nodes: int, op_dim: int = 48, hidden: int = 128, steps: int = 3,
                 symmetry_breaking: float = 0.1, update_scale: float = 0.1,
                 updated_ops: Sequence[bool] | None = None, detach_update_inputs: bool = True) -> None:
        super().__init__()
        self.steps, self.update_scale, self.detach_update_inputs = steps, update_scale, detach_update_inputs
        self.op_embedding = nn.Embedding(n_ops, op_dim)
        self.input_information = nn.Parameter(torch.randn(hidden) / hidden ** 0.5)
        self.forward_mask = nn.Linear(op_dim, hidden, bias=False)
        self.forward_transform = nn.Linear(hidden, hidden, bias=False)
        self.output_gradient = nn.Linear(hidden, hidden)
        self.backward_mask = nn.Linear(op_dim, hidden, bias=False)
        self.backward_transform = nn.Linear(hidden, hidden, bias=False)
        self.update = nn.Sequential(nn.Linear(op_dim + 2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, op_dim))
        # per-position initialization noise: part of the model's state (saved, seeded), never trained
        self.register_buffer("position_noise", symmetry_breaking * torch.randn(n_nodes, op_dim))
        # which op types an update may change (1: parametrized, as the reference; all ones: every op)
        self.register_buffer("updated_ops", updated_ops_mask(n_ops, updated_ops))
        self.out_dim = hidden

    def _forward_flow(self, adjacency: torch.Tensor, embeddings: torch.Tensor):
        """Node information N (B, n, h) and each node's summed incoming information (its op's input)."""
        b, n, _ = embeddings.shape
        gates = torch.sigmoid(self.forward_mask(embeddings))
        information = [self.input_information.expand(b, -1)]
        inflows = [torch.zeros_like(information[0])]
        for j in range(1, n):
            inflow = torch.einsum("bi,bih->bh", adjacency[:, :j, j], torch.stack(information, dim=1))
            inflows.append(inflow)
            information.append(gates[:, j] * self.forward_transform(inflow))
        return torch.stack(information, dim=1), torch.stack(inflows, dim=1)

    def _backward_flow(self, adjacency: torch.Tensor, embeddings: torch.Tensor,
                       information: torch.Tensor) -> torch.Tensor:
        """Gradient-like signal G (B, n, h) at every node's output, flowing from the output node back."""
        n = embeddings.shape[1]
        gates = torch.sigmoid(self.backward_mask(embeddings))
        gradients: list[torch.Tensor | None] = [None] * n
        gradients[n - 1] = self.output_gradient(information[:, n - 1])
        through_op = [None] * n  # the signal at node j's input, after passing back through its op
        through_op[n - 1] = gates[:, n - 1] * self.backward_transform(gradients[n - 1])
        for i in range(n - 2, -1, -1):
            successors = torch.stack(through_op[i + 1:], dim=1)
            gradients[i] = torch.einsum("bj,bjh->bh", adjacency[:, i, i + 1:], successors)
            through_op[i] = gates[:, i] * self.backward_transform(gradients[i])
        return torch.stack(gradients, dim=1)

    def embeddings(self, adjacency: torch.Tensor, ops: torch.Tensor) -> list[torch.Tensor]:
        """The op embeddings E before each step and after the last one (for inspection and tests)."""
        current = self.op_embedding(ops.argmax(-1)) + self.position_noise[: ops.shape[1]]
        mask = (ops @ self.updated_ops).unsqueeze(-1)  # (B, n, 1): may node j's op embedding change?
        history = [current]
        for _ in range(self.steps):
            information, inflows = self._forward_flow(adjacency, current)
            gradients = self._backward_flow(adjacency, current, information)
            own, seen = (current.detach(), inflows.detach()) if self.detach_update_inputs else (current, inflows)
            delta = self.update(torch.cat([own, seen, gradients], dim=-1))
            current = current + self.update_scale * mask * delta
            history.append(current)
        return history

    def forward(self, adjacency: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
        final = self.embeddings(adjacency, ops)[-1]
        information, _ = self._forward_flow(adjacency, final)
        return information[:, -1]
