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
problem on masses augmented with one dummy layer per side (paper eq. 3) by the compiled solver
of :mod:`nasstages.distances.otmann_solver` (POT's ``emd2`` is its oracle and fallback);
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
    """(len(nodes), 6): shortest, longest, random-walk path lengths from input, then to output.

    Plain Python over parent lists (numpy's per-call overhead on a handful of nodes made this
    most of building a network's layers); the means sum in numpy's order, so values are equal."""
    n = adj.shape[0]
    rows = np.asarray(adj, dtype=bool).tolist()
    out = [[0.0] * 6 for _ in range(n)]
    for j in range(1, n):
        parents = [i for i in range(j) if rows[i][j]]
        if parents:
            out[j][0] = 1 + min(out[i][0] for i in parents)
            out[j][1] = 1 + max(out[i][1] for i in parents)
            out[j][2] = 1 + _mean([out[i][2] for i in parents])
    for i in range(n - 2, -1, -1):
        children = [j for j in range(i + 1, n) if rows[i][j]]
        if children:
            out[i][3] = 1 + min(out[j][3] for j in children)
            out[i][4] = 1 + max(out[j][4] for j in children)
            out[i][5] = 1 + _mean([out[j][5] for j in children])
    return np.array(out, dtype=np.float64).reshape(n, 6)[nodes]


def _mean(values: list[float]) -> float:
    """numpy's mean of a short list: a plain left-to-right sum below 8 terms (its pairwise sum's
    base case), numpy itself above."""
    if len(values) < 8:
        total = 0.0
        for v in values:
            total += v
        return total / len(values)
    return float(np.mean(values))


class OTMANN(Distance):
    """NASBOT's OTMANN distance on op-on-node cell graphs."""

    name = "otmann"
    multithreaded = True  # the compiled solver runs a block's rows in parallel

    param_ranges = {"nu_str": (0.0, None), "nu_nas": (0.0, None), "io_mass": (0.0, None), "conv_mismatch": (0.0, None)}

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

    def memoized_layers(self, key: Arch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`layers` of a canonical architecture, computed once per instance (a BO run asks
        for the same observed networks every round; building them was half its time)."""
        memo = self.__dict__.setdefault("_layer_memo", {})
        if key not in memo:
            memo[key] = self.layers(key)
        return memo[key]

    def pairwise(self, archs_a: Sequence[Arch], archs_b: Sequence[Arch] | None = None,
                 show_progress: bool = False) -> np.ndarray:
        from nasstages.distances.otmann_solver import otmann_block

        keys_a, idx_a = unique_index([self.space.canonicalize(a) for a in archs_a])
        keys_b, idx_b = (keys_a, idx_a) if archs_b is None else unique_index(
            [self.space.canonicalize(b) for b in archs_b])
        union, _ = unique_index(keys_a + keys_b)
        position = {key: k for k, key in enumerate(union)}
        layers = [self.memoized_layers(key) for key in union]
        names = list(self._op_index)
        table = np.array([[_mismatch(x, y, self.conv_mismatch) for y in names] for x in names])
        # each pair solved in one orientation (the canonical order's first network first), so
        # its value is the same whichever tile or call solves it
        rank = np.empty(len(union), dtype=np.int64)
        rank[sorted(range(len(union)), key=lambda k: union[k])] = np.arange(len(union))
        sizes = np.array([len(m) for _, m, _ in layers], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        ops = np.concatenate([o for o, _, _ in layers]).astype(np.int64)
        mass = np.concatenate([m for _, m, _ in layers])
        paths = np.ascontiguousarray(np.concatenate([p for _, _, p in layers]))
        rows = np.array([position[k] for k in keys_a], dtype=np.int64)
        cols = np.array([position[k] for k in keys_b], dtype=np.int64)
        unique = np.zeros((len(rows), len(cols)))
        square = archs_b is None
        step = max(1, min(len(rows), 256)) if show_progress else max(len(rows), 1)
        for lo in tqdm(range(0, len(rows), step), disable=not show_progress, desc="otmann", mininterval=2):
            hi = min(lo + step, len(rows))
            # in a square call rows lo.. only need columns after them (upper triangle)
            cols_here = cols[lo:] if square else cols
            block = np.zeros((hi - lo, len(cols_here)))
            otmann_block(rows[lo:hi], cols_here, ops, mass, paths, offsets, rank, table, self.nu_str,
                         self.nu_nas, self.normalize, square, int(sizes.max()), block)
            unique[lo:hi, (lo if square else 0):] = block
        if square:  # the blocks filled the upper triangle only
            unique = unique + unique.T
        for r, c in zip(*np.nonzero(np.isnan(unique))):  # the compiled solver's guard: POT instead
            unique[r, c] = self._solve_with_pot(layers[rows[r]], layers[cols[c]], table, rank[rows[r]] < rank[cols[c]])
        return unique[idx_a[:, None], idx_b[None, :]]

    def _solve_with_pot(self, first: tuple, second: tuple, table: np.ndarray, forward: bool) -> float:
        """One pair by POT's network simplex (the fallback when the compiled solver gives up)."""
        if not forward:
            first, second = second, first
        (ops_a, mass_a, paths_a), (ops_b, mass_b, paths_b) = first, second
        cost = np.full((len(mass_a) + 1, len(mass_b) + 1), self.nu_nas)
        cost[:-1, :-1] = table[ops_a[:, None], ops_b[None, :]] + self.nu_str * np.abs(
            paths_a[:, None, :] - paths_b[None, :, :]).mean(axis=2)
        cost[-1, -1] = 0.0
        a, b = np.append(mass_a, mass_b.sum()), np.append(mass_b, mass_a.sum())
        value = exact_emd_cost(a, b, cost)
        return value / (mass_a.sum() + mass_b.sum()) if self.normalize else value
