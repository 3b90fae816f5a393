"""Encoding distances: edit (BO-edit), path (BANANAS) and ANASOD (tree-Wasserstein: ``tree_wasserstein.py``).

Each is a norm between per-architecture vectors of its canonical representative, computed in
one ``scipy.spatial.distance.cdist`` call. Multi-cell networks concatenate their cells' vectors
in cell-name order.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


from nasstages.distances.base import Distance, FeatureDistance
from nasstages.distances.cells import active_adjacency
from nasstages.distances.ops import category
from nasstages.errors import ConfigError
from nasstages.spaces import Arch, CellGraph, SearchSpace


def _cells(space: SearchSpace, arch: Arch) -> list[CellGraph]:
    graph = space.to_graph(space.canonicalize(arch))
    return [graph.cells[name] for name in sorted(graph.cells)]


class EditDistance(FeatureDistance):
    """BO-edit: Hamming distance between active adjacency matrices plus the number of op mismatches.

    On spaces whose networks chain different modules (TransNAS macro) the whole network graph is
    compared, nodes aligned by position (a module inserted early shifts the rest)."""

    name = "edit"
    metric = "cityblock"

    def params(self) -> dict[str, Any]:
        return {}

    def features(self, archs: Sequence[Arch]) -> np.ndarray:
        """Per network (its cells chained, :meth:`SearchSpace.network_graph`): active adjacency and
        half the op one-hot, zero-padded to the space's largest network, nodes aligned by position."""
        rows = []
        for arch in archs:
            graph = self.space.network_graph(self.space.canonicalize(arch))
            n = self.space.max_network_nodes or len(graph.ops)
            _, active = active_adjacency(graph)
            adjacency = np.zeros((n, n))
            adjacency[:len(graph.ops), :len(graph.ops)] = active
            ops = np.zeros((n, len(graph.vocabulary)))
            ops[:len(graph.ops)] = graph.one_hot()
            rows.append(np.concatenate([adjacency.ravel(), 0.5 * ops.ravel()]))
        return np.array(rows)


def input_output_paths(cell: CellGraph) -> list[tuple[str, ...]]:
    """Op sequences (input and output excluded) of every active input->output path."""
    _, adj = active_adjacency(cell)
    n = len(cell.ops)
    paths: list[list[tuple[str, ...]]] = [[] for _ in range(n)]
    paths[0] = [()]
    for j in range(1, n):
        for i in np.flatnonzero(adj[:j, j]):
            step = () if j == n - 1 else (cell.ops[j],)
            paths[j] += [p + step for p in paths[i]]
    return paths[n - 1]


class PathDistance(Distance):
    """BANANAS path encoding (White et al., AAAI 2021): one bit per op sequence of an input->output
    path present in the cell; the distance is the Hamming distance between the bit vectors."""

    name = "path"
    requires = {"single_cell": "path sets are taken per cell, not over a chain of different modules"}

    def params(self) -> dict[str, Any]:
        return {}

    def path_sets(self, archs: Sequence[Arch]) -> list[set[tuple[int, tuple[str, ...]]]]:
        return [{(k, path) for k, cell in enumerate(_cells(self.space, arch)) for path in input_output_paths(cell)}
                for arch in archs]

    def pairwise(self, archs_a: Sequence[Arch], archs_b: Sequence[Arch] | None = None) -> np.ndarray:
        sets_a = self.path_sets(archs_a)
        sets_b = sets_a if archs_b is None else self.path_sets(archs_b)
        vocabulary = {p: k for k, p in enumerate(sorted(set().union(*sets_a, *sets_b)))}

        def encode(sets: list[set]) -> np.ndarray:
            bits = np.zeros((len(sets), max(len(vocabulary), 1)))
            for row, paths in enumerate(sets):
                bits[row, [vocabulary[p] for p in paths]] = 1.0
            return bits

        fa = encode(sets_a)
        from scipy.spatial.distance import cdist  # imported where used: ~0.2 s at every job's start

        out = cdist(fa, fa if archs_b is None else encode(sets_b), metric="cityblock")
        if archs_b is None:
            np.fill_diagonal(out, 0.0)
        return out


class AnasodDistance(FeatureDistance):
    """ANASOD: distance between operation-distribution encodings (fraction of each op per cell)."""

    name = "anasod"
    requires = {"edge_operations": "ANASOD compares per-edge operation counts"}

    param_choices = {"norm": ("l1", "l2")}

    def __init__(self, space: SearchSpace, norm: str = "l2") -> None:
        super().__init__(space)
        if norm not in ("l1", "l2"):
            raise ConfigError(f"anasod: norm must be 'l1' or 'l2', not {norm!r}")
        self.norm = norm
        self.metric = "cityblock" if norm == "l1" else "euclidean"

    def params(self) -> dict[str, Any]:
        return {"norm": self.norm}

    def features(self, archs: Sequence[Arch]) -> np.ndarray:
        rows = []
        for arch in archs:
            parts = []
            for cell in _cells(self.space, arch):
                ops = [k for k, op in enumerate(cell.vocabulary) if category(op) != "io"]
                hist = cell.one_hot()[:, ops].sum(axis=0)
                parts.append(hist / max(hist.sum(), 1.0))
            rows.append(np.concatenate(parts))
        return np.array(rows)
