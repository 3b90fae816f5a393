"""GATES and TA-GATES on cells whose ops sit on edges (NB201, TNB101 micro), as their reference code
encodes NB201.

aw_nas's ``NasBench201FlowArchEmbedder`` (``nb201-flow``, ``aw_nas/btcs/nasbench_201.py``) stacks
``DenseGraphSimpleOpEdgeFlow`` layers (``aw_nas/utils/torch_utils.py``); its NB201 GATES predictor
config (``examples/research/dele/cfgs/train_nb201_gates_config.yaml``) sets op and node embeddings
of 48, ``hid_dim`` 96, five 128-wide layers, ``residual_only: 1`` and ``use_final_only``. Layer l
lets node information X flow along the edges, gated by each edge's op (GATES Eq. 4, op-on-edge form):

    X'_j = Σ_{i: op_ji ≠ none} σ(EMB(op_ji) A_l + a_l) ⊙ (X_i W_l)  +  [j = 0] X_0 W_l,

only the input node keeping its own information (``residual_only: 1``), with ReLU between layers
and none after the last. Nodes start from a learned input embedding (node 0) and zeros (the
others), both through one Linear(48, 96); the encoding is the last node's vector.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from nasstages.encoders.tagates import updated_ops_mask


class EdgeFlowLayer(nn.Module):
    """One ``DenseGraphSimpleOpEdgeFlow`` layer: X'_j = Σ_i g_ji ⊙ X_i W + [j = kept] X_j W, with
    g_ji = σ(EMB_ji A + a) on an edge (0 where op_ji is ``none``, 1 on a skip edge when
    ``skip_index`` names it, the reference's ``skip_connection_index``). The kept node is the input
    (``residual_only: 1``) or, flowing backwards, the output (``reverse``). Returns X' and the
    messages g_ji ⊙ X_i W (b, j, i, out), which TA-GATES's update reads."""

    def __init__(self, in_dim: int, out_dim: int, op_dim: int, keep: int = 0, skip_index: int | None = None) -> None:
        super().__init__()
        self.attention = nn.Linear(op_dim, out_dim)
        # reset_parameters: W ~ U(-1/sqrt(out), 1/sqrt(out)), no bias
        bound = 1 / math.sqrt(out_dim)
        self.weight = nn.Parameter(torch.empty(in_dim, out_dim).uniform_(-bound, bound))
        self.keep, self.skip_index = keep, skip_index

    def forward(self, information: torch.Tensor, edge_ops: torch.Tensor, op_vectors: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        support = information @ self.weight  # (b, v, out)
        gates = torch.sigmoid(self.attention(op_vectors)) * (edge_ops != 0).unsqueeze(-1).to(support.dtype)
        if self.skip_index is not None:
            gates = torch.where((edge_ops == self.skip_index).unsqueeze(-1), torch.ones_like(gates), gates)
        messages = gates * support.unsqueeze(-3)  # (b, receiver, sender, out)
        kept = torch.zeros_like(support)
        kept[:, self.keep] = support[:, self.keep]
        return messages.sum(-2) + kept, messages


def flow(layers: nn.ModuleList, information: torch.Tensor, edge_ops: torch.Tensor, op_vectors: torch.Tensor
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """The layers in turn, ReLU between them (none after the last); the last layer's messages."""
    messages = information
    for k, layer in enumerate(layers):
        information, messages = layer(information, edge_ops, op_vectors)
        if k != len(layers) - 1:
            information = torch.relu(information)
    return information, messages


class _EdgeCellStart(nn.Module):
    """Initial node information: a learned input-node embedding and zeros for the other nodes (the
    reference's frozen ``other_node_emb``), both through one Linear(node_dim, hid_dim)."""

    def __init__(self, node_dim: int, hid_dim: int) -> None:
        super().__init__()
        self.input_node = nn.Embedding(1, node_dim)
        self.register_buffer("other_node", torch.zeros(node_dim))
        self.x_hidden = nn.Linear(node_dim, hid_dim)

    def forward(self, batch: int, nodes: int) -> torch.Tensor:
        start = torch.cat([self.input_node.weight, self.other_node.expand(nodes - 1, -1)])
        return self.x_hidden(start).expand(batch, -1, -1)


class GatesEdgeFlowEncoder(nn.Module):
    """Op-on-edge GATES; ``forward(edge_ops)`` with ``edge_ops[b, to, from]`` op indices, 0 = no edge."""

    def __init__(self, n_ops: int, op_dim: int = 48, node_dim: int = 48, hid_dim: int = 96,
                 layers: tuple[int, ...] = (128,) * 5) -> None:
        super().__init__()
        self.start = _EdgeCellStart(node_dim, hid_dim)
        self.op_embedding = nn.Embedding(n_ops, op_dim)
        widths = (hid_dim, *layers)
        self.layers = nn.ModuleList(EdgeFlowLayer(a, b, op_dim) for a, b in zip(widths[:-1], widths[1:]))
        self.out_dim = layers[-1]

    def forward(self, edge_ops: torch.Tensor) -> torch.Tensor:
        b, v, _ = edge_ops.shape
        information, _ = flow(self.layers, self.start(b, v), edge_ops, self.op_embedding(edge_ops))
        return information[:, -1]


class TAGatesEdgeFlowEncoder(nn.Module):
    """TA-GATES on op-on-edge cells, as aw_nas's ``NB201FBFlowArchEmbedder`` (``nb201-fbflow``) with
    ``examples/research/tagates/cfgs/nb201_cfgs/tagates.yaml``: three 128-wide forward layers
    (``gcn_out_dims``), skip edges passing information unchanged (``skip_connection_index: 1``), and
    ``num_time_steps: 4`` rounds (``steps`` = 3 updates) of

        forward   Y, M = flow(X, E)                         M_ji: the message on edge i -> j
        backward  B = fb(Y_out) at the output node;  B', M^b = flow back along the reversed edges
        update    E_ji ← E_ji + s · m_ji · U([E_ji, M_ji, M^b_ij])    (``concat_ofb_message``)

    with fb two Linear(128) layers with a ReLU between (``fb_conversion_dims``), three backward layers
    keeping the output node's own information (``reverse``), U = Linear(48+128+128, 128), ReLU,
    Linear(128, 48) (``updateopemb_dims``), s = 0.1 and m_ji = 1 only on parametrized (conv) ops.
    E_ji and M_ji enter U detached (``updateopemb_detach_opemb`` / ``_finfo``). The encoding is the
    output node after the last forward pass. Symmetry breaking: the reference's ``param_zs`` needs the
    authors' pickle (see :mod:`nasstages.encoders.tagates`); we add a fixed random vector per edge
    position (scale ``symmetry_breaking``, the reference's ``random`` scale, drawn once from the seed).
    """

    def __init__(self, n_ops: int, n_nodes: int, op_dim: int = 48, node_dim: int = 48, hid_dim: int = 96,
                 width: int = 128, layers: int = 3, steps: int = 3, symmetry_breaking: float = 0.1,
                 update_scale: float = 0.1, updated_ops: Sequence[bool] | None = None,
                 detach_update_inputs: bool = True, skip_index: int | None = 1) -> None:
        super().__init__()
        self.steps, self.update_scale, self.detach_update_inputs = steps, update_scale, detach_update_inputs
        self.start = _EdgeCellStart(node_dim, hid_dim)
        self.op_embedding = nn.Embedding(n_ops, op_dim)
        widths = (hid_dim,) + (width,) * layers
        self.forward_layers = nn.ModuleList(EdgeFlowLayer(a, b, op_dim, 0, skip_index)
                                            for a, b in zip(widths[:-1], widths[1:]))
        self.backward_layers = nn.ModuleList(EdgeFlowLayer(width, width, op_dim, -1, skip_index) for _ in range(layers))
        self.conversion = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
        self.update = nn.Sequential(nn.Linear(op_dim + 2 * width, width), nn.ReLU(), nn.Linear(width, op_dim))
        self.register_buffer("position_noise", symmetry_breaking * torch.randn(n_nodes, n_nodes, op_dim))
        self.register_buffer("updated_ops", updated_ops_mask(n_ops, updated_ops))
        self.out_dim = width

    def embeddings(self, edge_ops: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The edge op embeddings before each update and after the last (b, to, from, op_dim each),
        and the node information of the final forward pass."""
        b, v, _ = edge_ops.shape
        start = self.start(b, v)
        op_vectors = self.op_embedding(edge_ops) + self.position_noise[:v, :v]
        may_change = self.updated_ops[edge_ops].unsqueeze(-1)  # (b, to, from, 1)
        reversed_ops = edge_ops.transpose(1, 2)
        history = [op_vectors]
        for _ in range(self.steps):
            information, messages = flow(self.forward_layers, start, edge_ops, op_vectors)
            backward_start = torch.zeros_like(information)
            backward_start[:, -1] = self.conversion(information[:, -1])
            _, backward_messages = flow(self.backward_layers, backward_start, reversed_ops, op_vectors.transpose(1, 2))
            own, seen = ((op_vectors.detach(), messages.detach()) if self.detach_update_inputs
                         else (op_vectors, messages))
            delta = self.update(torch.cat([own, seen, backward_messages.transpose(1, 2)], dim=-1))
            op_vectors = op_vectors + self.update_scale * may_change * delta
            history.append(op_vectors)
        information, _ = flow(self.forward_layers, start, edge_ops, op_vectors)
        return history, information

    def forward(self, edge_ops: torch.Tensor) -> torch.Tensor:
        return self.embeddings(edge_ops)[1][:, -1]
