"""Per-node features of an op-on-node cell graph that the OT distances consume.

A node is *active* when its op is not ``none`` and it lies on a path from the input (node 0) to
the output (last node); edges touching inactive nodes are dropped, so dead parts of a cell do
not count (spaces canonicalize archs so that such parts are ``none`` already).

Structural vector s (6 entries, each in [0, 1]; HOTNAS leaves the choice open, this is ours):
  0 in-degree / (n − 1)              1 out-degree / (n − 1)
  2 longest path from input / (n − 1) 3 longest path to output / (n − 1)
  4 input→node paths / input→output paths   5 node→output paths / input→output paths
Inactive nodes get s = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nasstages.spaces import CellGraph


@dataclass(frozen=True)
class CellFeatures:
    ops: tuple[str, ...]
    active: np.ndarray  # (n,) bool
    adjacency: np.ndarray  # (n, n) active edges only
    structure: np.ndarray  # (n, 6)


def _active_mask(ops: tuple[str, ...], adjacency: np.ndarray) -> tuple[list[bool], list[list[int]]]:
    """(active flags, successor lists restricted to active nodes) of a topologically ordered DAG.

    Plain Python on ≤ a dozen nodes: numpy's per-call overhead made this a BO run's second cost
    (cells are featurized as candidates appear, thousands per run)."""
    n = len(ops)
    alive = [op != "none" for op in ops]
    succ = [[j for j in range(i + 1, n) if adjacency[i][j] and alive[i] and alive[j]] for i in range(n)]
    reach_in = [False] * n
    reach_in[0] = alive[0]
    for i in range(n):
        if reach_in[i]:
            for j in succ[i]:
                reach_in[j] = True
    reach_out = [False] * n
    reach_out[n - 1] = alive[n - 1]
    for i in range(n - 2, -1, -1):
        reach_out[i] = alive[i] and any(reach_out[j] for j in succ[i])
    active = [a and b for a, b in zip(reach_in, reach_out)]
    return active, [[j for j in succ[i] if active[j]] if active[i] else [] for i in range(n)]


def active_adjacency(cell: CellGraph) -> tuple[np.ndarray, np.ndarray]:
    """(active mask, adjacency restricted to active nodes) of a topologically ordered DAG."""
    n = len(cell.ops)
    active, succ = _active_mask(cell.ops, np.asarray(cell.adjacency).tolist())
    adj = np.zeros((n, n), dtype=bool)
    for i, row in enumerate(succ):
        adj[i, row] = True
    return np.array(active, dtype=bool), adj


def cell_features(cell: CellGraph) -> CellFeatures:
    """Active mask, active adjacency and the 6-dim structural vectors of ``cell``."""
    n = len(cell.ops)
    active, succ = _active_mask(cell.ops, np.asarray(cell.adjacency).tolist())
    pred: list[list[int]] = [[] for _ in range(n)]
    for i, row in enumerate(succ):
        for j in row:
            pred[j].append(i)
    depth_in, paths_in = [0] * n, [0] * n
    paths_in[0] = 1 if active[0] else 0
    for j in range(1, n):
        if pred[j]:
            depth_in[j] = 1 + max(depth_in[i] for i in pred[j])
            paths_in[j] = sum(paths_in[i] for i in pred[j])
    depth_out, paths_out = [0] * n, [0] * n
    paths_out[n - 1] = 1 if active[n - 1] else 0
    for i in range(n - 2, -1, -1):
        if succ[i]:
            depth_out[i] = 1 + max(depth_out[j] for j in succ[i])
            paths_out[i] = sum(paths_out[j] for j in succ[i])
    total = paths_in[n - 1]
    scale = max(n - 1, 1)
    structure = np.zeros((n, 6))
    for v in range(n):
        if active[v]:
            structure[v] = (len(pred[v]) / scale, len(succ[v]) / scale, depth_in[v] / scale, depth_out[v] / scale,
                            paths_in[v] / total if total else 0.0, paths_out[v] / total if total else 0.0)
    adjacency = np.zeros((n, n), dtype=bool)
    for i, row in enumerate(succ):
        adjacency[i, row] = True
    return CellFeatures(ops=cell.ops, active=np.array(active, dtype=bool), adjacency=adjacency, structure=structure)
