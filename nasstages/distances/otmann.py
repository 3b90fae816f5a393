"""OTMANN, the optimal-transport network distance of NASBOT (Kandasamy et al., NeurIPS 2018, §3).

Layers are the active nodes of the op-on-node cell graph (input and output always included).

* layer mass ℓm: conv k×k -> k² (parameters per channel pair), pool / identity -> 1, and
  input / output -> ζ Σ of the processing layers' masses (ζ = ``io_mass``, the paper's rule);
* label mismatch C_lmm: 0 for equal ops, ``conv_mismatch`` between two convs, 0.2 between two
  pools, 0.5 between identity and pool, and "infinite" (never matched) otherwise;
* structural cost C_str(i, j): mean absolute difference of the 6 path lengths
  (shortest, longest, random-walk; from the input and to the output);
* non-assignment: mass left unmatched costs ``nu_nas`` per unit.

OTMANN = min_Z <Z, C_lmm + ν_str C_str> + ν_nas (unassigned mass), solved as one exact OT
problem (POT ``ot.emd2``) on masses augmented with one dummy layer per side (paper eq. 3);
``normalize`` divides by the total mass of both networks (the paper's d̄).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from nasstages.distances.base import Distance, unique_index
from nasstages.distances.cells import active_adjacency
from nasstages.distances.ops import category, kernel_size
from nasstages.errors import ConfigError
from nasstages.spaces import Arch, SearchSpace

NEVER = 1e6  # "infinite" label mismatch: the non-assignment option is always cheaper


def _mismatch(a: str, b: str, conv_mismatch: float) -> float:
    if a == b:
        return 0.0
    ca, cb = category(a), category(b)
    if ca == cb == "conv":
        return conv_mismatch
    if ca == cb == "pool":
        return 0.2
    if {ca, cb} == {"identity", "pool"}:
        return 0.5
    return NEVER


_EMD_C = None


def exact_emd_cost(a: np.ndarray, b: np.ndarray, cost: np.ndarray) -> float:
    """Exact OT cost with POT's network simplex; its C entry point directly when available
    (``ot.emd2`` spends ~75 µs of its ~78 µs per 9×9 problem on backend checks)."""
    global _EMD_C
    if _EMD_C is None:
        try:
            from ot.lp.emd_wrap import emd_c as _EMD_C
        except ImportError:  # pragma: no cover - POT layout changed
            import ot

            return float(ot.emd2(a, b, cost))
    _, value, _, _, code = _EMD_C(a, b, np.ascontiguousarray(cost), 100000, 1)
    if code != 1:
        raise RuntimeError(f"network simplex did not reach an optimum (code {code})")
    return float(value)


def _path_lengths(adj: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """(len(nodes), 6): shortest, longest, random-walk path lengths from input, then to output."""
    n = adj.shape[0]
    out = np.zeros((n, 6))
    for j in range(1, n):
        parents = np.flatnonzero(adj[:j, j])
        if len(parents):
            out[j, 0] = 1 + out[parents, 0].min()
            out[j, 1] = 1 + out[parents, 1].max()
            out[j, 2] = 1 + out[parents, 2].mean()
    for i in range(n - 2, -1, -1):
        children = i + 1 + np.flatnonzero(adj[i, i + 1 :])
        if len(children):
            out[i, 3] = 1 + out[children, 3].min()
            out[i, 4] = 1 + out[children, 4].max()
            out[i, 5] = 1 + out[children, 5].mean()
    return out[nodes]


class OTMANN(Distance):
    """NASBOT's OTMANN distance on op-on-node cell graphs."""

    name = "otmann"

    def __init__(self, space: SearchSpace, nu_str: float = 0.5, nu_nas: float = 1.0, io_mass: float = 0.1,
                 conv_mismatch: float = 0.2, normalize: bool = True) -> None:
        super().__init__(space)
        if min(nu_str, nu_nas, io_mass, conv_mismatch) < 0:
            raise ConfigError("otmann: nu_str, nu_nas, io_mass and conv_mismatch must be non-negative")
        self.nu_str, self.nu_nas, self.io_mass = float(nu_str), float(nu_nas), float(io_mass)
        self.conv_mismatch, self.normalize = float(conv_mismatch), bool(normalize)
        self._op_index: dict[str, int] = {}  # op name -> id used in layers()

    def params(self) -> dict[str, Any]:
        return {"nu_str": self.nu_str, "nu_nas": self.nu_nas, "io_mass": self.io_mass,
                "conv_mismatch": self.conv_mismatch, "normalize": self.normalize}

    def layers(self, arch: Arch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(op ids, masses, path lengths) of the network's layers (its cells chained into one graph).

        Op ids index ``self._op_index``, which grows as new ops are seen."""
        ops: list[int] = []
        masses: list[np.ndarray] = []
        paths: list[np.ndarray] = []
        for cell in [self.space.network_graph(self.space.canonicalize(arch))]:
            active, adj = active_adjacency(cell)
            active[0] = active[-1] = True
            nodes = np.flatnonzero(active)
            cell_ops = [cell.ops[k] for k in nodes]  # names here; ids below
            mass = np.array([float(kernel_size(op) ** 2) if category(op) == "conv" else 1.0 for op in cell_ops])
            io = np.array([category(op) == "io" for op in cell_ops])
            mass[io] = self.io_mass * max(mass[~io].sum(), 1.0)
            ops += [self._op_index.setdefault(op, len(self._op_index)) for op in cell_ops]
            masses.append(mass)
            paths.append(_path_lengths(adj, nodes))
        return np.array(ops, dtype=np.int64), np.concatenate(masses), np.concatenate(paths)

    def pairwise(self, archs_a: Sequence[Arch], archs_b: Sequence[Arch] | None = None,
                 show_progress: bool = False) -> np.ndarray:
        keys_a, idx_a = unique_index([self.space.canonicalize(a) for a in archs_a])
        layers_a = [self.layers(k) for k in keys_a]
        if archs_b is None:
            keys_b, idx_b, layers_b = keys_a, idx_a, layers_a
        else:
            keys_b, idx_b = unique_index([self.space.canonicalize(b) for b in archs_b])
            layers_b = [self.layers(k) for k in keys_b]
        names = list(self._op_index)
        table = np.array([[_mismatch(x, y, self.conv_mismatch) for y in names] for x in names])
        order = {k: r for r, k in enumerate(sorted(set(keys_a) | set(keys_b)))}
        # b side grouped by layer count: one row of cost matrices (a_i against every b_j of a
        # size) is one array operation, each pair's matrix a contiguous slice of it
        sizes_b = np.array([len(m) for _, m, _ in layers_b])
        groups = [np.flatnonzero(sizes_b == size) for size in np.unique(sizes_b)]
        ops_b = [np.array([layers_b[j][0] for j in group]) for group in groups]
        paths_b = [np.array([layers_b[j][2] for j in group]) for group in groups]
        # masses augmented with the dummy layer, whose mass (the other side's total) is set per pair
        augmented_b = [np.append(m, 0.0) for _, m, _ in layers_b]
        totals_b = [float(m.sum()) for _, m, _ in layers_b]
        unique = np.zeros((len(keys_a), len(keys_b)))
        for i in tqdm(range(len(keys_a)), disable=not show_progress, desc="otmann", mininterval=2):
            ops_a, mass_a, paths_a = layers_a[i]
            a = np.append(mass_a, 0.0)
            total_a = float(mass_a.sum())
            j0 = i + 1 if archs_b is None else 0
            forward = order[keys_a[i]]
            for group, ops_g, paths_g in zip(groups, ops_b, paths_b):
                keep = group >= j0
                if not keep.any():
                    continue
                members = group[keep]
                cost = np.full((len(members), len(a), paths_g.shape[1] + 1), self.nu_nas)
                cost[:, :-1, :-1] = table[ops_a[None, :, None], ops_g[keep][:, None, :]] + self.nu_str * np.abs(
                    paths_a[None, :, None, :] - paths_g[keep][:, None, :, :]).mean(axis=3)
                cost[:, -1, -1] = 0.0
                for k, j in enumerate(members):
                    if keys_a[i] == keys_b[j]:
                        continue
                    b = augmented_b[j]
                    a[-1] = totals_b[j]
                    b[-1] = total_a
                    # one orientation per unordered pair, whichever tile solves it (exact values
                    # agree anyway; this keeps them bit-identical)
                    if forward <= order[keys_b[j]]:
                        value = exact_emd_cost(a, b, cost[k])
                    else:
                        value = exact_emd_cost(b, a, cost[k].T)
                    if self.normalize:
                        value /= total_a + totals_b[j]
                    unique[i, j] = value
                    if archs_b is None:
                        unique[j, i] = value
        return unique[idx_a[:, None], idx_b[None, :]]
