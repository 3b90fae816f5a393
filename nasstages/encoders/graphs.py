"""Batched graph tensors of architectures: the adjacency and one-hot op matrices encoders consume.

Both arch2vec and GATES read the op-on-node DAG of a single-cell space (``space.to_graph``),
node 0 the input and the last node the output, as dense (N, n, n) and (N, n, |V|) arrays. Spaces
whose ops sit on edges (NB201, TNB101 micro) also give the op-on-edge form (N, V, V) of op indices
(``space.edge_op_matrix``), which GATES reads there as its reference code does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nasstages.errors import ConfigError
from nasstages.spaces import Arch, SearchSpace


@dataclass(frozen=True)
class GraphTensors:
    """``adjacency[k, i, j] = 1`` for an edge i -> j of arch k; ``ops[k, i]`` one-hot over ``vocabulary``;
    ``edge_ops[k, to, from]`` the index in ``edge_vocabulary`` of the op on edge from -> to (0: no
    edge), or None where the space's ops sit on nodes."""

    adjacency: np.ndarray
    ops: np.ndarray
    vocabulary: tuple[str, ...]
    edge_ops: np.ndarray | None = None
    edge_vocabulary: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.adjacency)

    def subset(self, index: np.ndarray | Sequence[int]) -> "GraphTensors":
        index = np.asarray(index)
        edge_ops = None if self.edge_ops is None else self.edge_ops[index]
        return GraphTensors(self.adjacency[index], self.ops[index], self.vocabulary, edge_ops, self.edge_vocabulary)


def single_cell(space: SearchSpace, arch: Arch):
    """The one cell graph of ``arch``; encoders here support single-cell spaces only."""
    graph = space.to_graph(arch)
    if len(graph.cells) != 1:
        raise ConfigError(f"encoders support single-cell spaces; {space.name} has cells {sorted(graph.cells)}")
    return next(iter(graph.cells.values()))


def graph_tensors(space: SearchSpace, archs: Sequence[Arch]) -> GraphTensors:
    """Stack the cell graphs of ``archs`` (all with the same node count) into dense arrays."""
    if not archs:
        raise ValueError("graph_tensors needs at least one architecture")
    cells = [single_cell(space, a) for a in archs]
    sizes = {len(c.ops) for c in cells}
    if len(sizes) == 1 and (space.max_network_nodes is None or sizes == {space.max_network_nodes}):
        adjacency = np.stack([c.adjacency for c in cells]).astype(np.float32)
        ops = np.stack([c.one_hot() for c in cells])
        edges = [space.edge_op_matrix(a) for a in archs]
        if edges[0] is None:
            return GraphTensors(adjacency, ops, cells[0].vocabulary)
        return GraphTensors(adjacency, ops, cells[0].vocabulary, np.stack(edges), tuple(space.operations))
    if space.max_network_nodes is None:
        raise ConfigError(f"encoders need a fixed node count per cell; {space.name} gives {sorted(sizes)}")
    return _padded(cells, space.max_network_nodes)


def _padded(cells: Sequence, n: int) -> GraphTensors:
    """Cells of up to ``n`` nodes (NB101's pruned cells) padded to ``n``: empty nodes (no edge, an
    all-zero op row) inserted before the output, so input and output keep their rows 0 and n − 1."""
    adjacency = np.zeros((len(cells), n, n), dtype=np.float32)
    ops = np.zeros((len(cells), n, len(cells[0].vocabulary)), dtype=np.float32)
    for k, cell in enumerate(cells):
        m = len(cell.ops)
        if m > n:
            raise ConfigError(f"a cell of {m} nodes exceeds the space's {n}")
        place = np.r_[np.arange(m - 1), n - 1]  # node i of the cell -> its row in the padded graph
        adjacency[k][np.ix_(place, place)] = cell.adjacency
        ops[k][place] = cell.one_hot()
    return GraphTensors(adjacency, ops, cells[0].vocabulary)
