"""Batched graph tensors of architectures: the adjacency and one-hot op matrices encoders consume.

Both arch2vec and GATES read the op-on-node DAG of a single-cell space (``space.to_graph``),
node 0 the input and the last node the output, as dense (N, n, n) and (N, n, |V|) arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nasstages.errors import ConfigError
from nasstages.spaces import Arch, SearchSpace


@dataclass(frozen=True)
class GraphTensors:
    """``adjacency[k, i, j] = 1`` for an edge i -> j of arch k; ``ops[k, i]`` one-hot over ``vocabulary``."""

    adjacency: np.ndarray
    ops: np.ndarray
    vocabulary: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.adjacency)

    def subset(self, index: np.ndarray | Sequence[int]) -> "GraphTensors":
        index = np.asarray(index)
        return GraphTensors(self.adjacency[index], self.ops[index], self.vocabulary)


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
    if len(sizes) != 1:
        raise ConfigError(f"encoders need a fixed node count per cell; {space.name} gives {sorted(sizes)}")
    adjacency = np.stack([c.adjacency for c in cells]).astype(np.float32)
    ops = np.stack([c.one_hot() for c in cells])
    return GraphTensors(adjacency, ops, cells[0].vocabulary)
