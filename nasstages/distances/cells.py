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


def active_adjacency(cell: CellGraph) -> tuple[np.ndarray, np.ndarray]:
    """(active mask, adjacency restricted to active nodes) of a topologically ordered DAG."""
    n = len(cell.ops)
    adj = np.array(cell.adjacency, dtype=bool)
    alive = np.array([op != "none" for op in cell.ops])
    adj &= alive[:, None] & alive[None, :]
    reach_in = np.zeros(n, bool)
    reach_in[0] = alive[0]
    for j in range(1, n):
        reach_in[j] = alive[j] and bool(np.any(adj[:j, j] & reach_in[:j]))
    reach_out = np.zeros(n, bool)
    reach_out[n - 1] = alive[n - 1]
    for i in range(n - 2, -1, -1):
        reach_out[i] = alive[i] and bool(np.any(adj[i, i + 1 :] & reach_out[i + 1 :]))
    active = reach_in & reach_out
    adj &= active[:, None] & active[None, :]
    return active, adj


def cell_features(cell: CellGraph) -> CellFeatures:
    """Active mask, active adjacency and the 6-dim structural vectors of ``cell``."""
    n = len(cell.ops)
    active, adj = active_adjacency(cell)
    a = adj.astype(np.float64)
    depth_in = np.zeros(n)
    paths_in = np.zeros(n)
    paths_in[0] = 1.0 if active[0] else 0.0
    for j in range(1, n):
        preds = np.flatnonzero(adj[:j, j])
        if len(preds):
            depth_in[j] = 1 + depth_in[preds].max()
            paths_in[j] = paths_in[preds].sum()
    depth_out = np.zeros(n)
    paths_out = np.zeros(n)
    paths_out[n - 1] = 1.0 if active[n - 1] else 0.0
    for i in range(n - 2, -1, -1):
        succs = i + 1 + np.flatnonzero(adj[i, i + 1 :])
        if len(succs):
            depth_out[i] = 1 + depth_out[succs].max()
            paths_out[i] = paths_out[succs].sum()
    total = paths_in[n - 1]
    scale = max(n - 1, 1)
    structure = np.stack([
        a.sum(axis=0) / scale, a.sum(axis=1) / scale, depth_in / scale, depth_out / scale,
        paths_in / total if total else np.zeros(n), paths_out / total if total else np.zeros(n),
    ], axis=1)
    structure[~active] = 0.0
    return CellFeatures(ops=cell.ops, active=active, adjacency=adj, structure=structure)
