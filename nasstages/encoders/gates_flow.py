"""GATES on cells whose ops sit on edges (NB201, TNB101 micro), as its reference code encodes NB201.

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

import torch
from torch import nn


class GatesEdgeFlowEncoder(nn.Module):
    """Op-on-edge GATES; ``forward(edge_ops)`` with ``edge_ops[b, to, from]`` op indices, 0 = no edge."""

    def __init__(self, n_ops: int, op_dim: int = 48, node_dim: int = 48, hid_dim: int = 96,
                 layers: tuple[int, ...] = (128,) * 5) -> None:
        super().__init__()
        self.input_node = nn.Embedding(1, node_dim)
        self.register_buffer("other_node", torch.zeros(node_dim))  # the reference's frozen zero embedding
        self.op_embedding = nn.Embedding(n_ops, op_dim)
        self.x_hidden = nn.Linear(node_dim, hid_dim)
        widths = (hid_dim, *layers)
        # DenseGraphSimpleOpEdgeFlow.reset_parameters: W ~ U(-1/sqrt(out), 1/sqrt(out)), no bias
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(a, b).uniform_(-1 / math.sqrt(b), 1 / math.sqrt(b)))
            for a, b in zip(widths[:-1], widths[1:]))
        self.attentions = nn.ModuleList(nn.Linear(op_dim, width) for width in layers)
        self.out_dim = layers[-1]

    def forward(self, edge_ops: torch.Tensor) -> torch.Tensor:
        b, v, _ = edge_ops.shape
        nodes = torch.cat([self.input_node.weight, self.other_node.expand(v - 1, -1)])  # (v, node_dim)
        information = self.x_hidden(nodes).expand(b, -1, -1)
        present = (edge_ops != 0).unsqueeze(-1).to(information.dtype)  # (b, to, from, 1)
        op_vectors = self.op_embedding(edge_ops)  # (b, to, from, op_dim)
        last = len(self.weights) - 1
        for layer, (weight, attention) in enumerate(zip(self.weights, self.attentions)):
            support = information @ weight  # (b, v, width)
            gates = torch.sigmoid(attention(op_vectors)) * present
            flowed = (gates * support.unsqueeze(-3)).sum(-2)  # sum over each node's sources
            residual = torch.zeros_like(support)
            residual[:, 0] = support[:, 0]
            information = flowed + residual
            if layer != last:
                information = torch.relu(information)
        return information[:, -1]
