"""HOTNN, the hierarchical optimal-transport distance of HOTNAS (Yang, Liu, Xu).

Cell level (iFGW): nodes carry an op o and a structural vector s (see ``cells.py``);
pointwise cost C_ij = ε D(o_i, o_j) + (1 − ε) H(s_i, s_j), intra-cell costs C^p_ik the same
within a cell, and

    iFGW(B1, B2) = min_{T ∈ Π(1/n, 1/m)} λ Σ T_ij C_ij + (1 − λ) Σ T_ij T_kl |C^p_ik − C^q_jl|,

solved by the compiled conditional-gradient solver (``fgw_solver.py``), best of ``restarts``
starts. Network level: S_st = (1 − η) iFGW(B_s, B_t) + η |pos(B_s) − pos(B_t)| with pos the
relative position of a cell in its network's skeleton, and HOTNN = EMD(uniform, uniform, S).
When two networks repeat cells through equal skeletons (NB201), the EMD is the identity
matching and HOTNN = (1 − η) iFGW of their cells.

A knob of the representation, for the TNB101 macro ablation (issue 22): ``variant_cost`` is D
between two ops that differ only in a width / resolution change (``conv_3x3`` vs
``conv_3x3_stride2``; default 0.1 = the conv–conv value the tables use).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nasstages.distances.base import Distance
from nasstages.distances.cells import cell_features
from nasstages.distances.ops import op_distance_table
from nasstages.errors import ConfigError
from nasstages.spaces import Arch, CellGraph, SearchSpace

STRUCTURE_DIMS = 6


class PackedCells:
    """Unique cells as padded arrays for the compiled solver (packed afresh; a HOTNN instance packs
    through its :class:`CellStore`, which featurizes each cell once)."""

    def __init__(self, cells: Sequence[CellGraph], vocabulary: list[str], D: np.ndarray, eps: float) -> None:
        k = len(cells)
        nmax = max(len(c.ops) for c in cells)
        self.sizes = np.array([len(c.ops) for c in cells], dtype=np.int64)
        self.ops = np.zeros((k, nmax), dtype=np.int64)
        self.structure = np.zeros((k, nmax, STRUCTURE_DIMS))
        self.intra = np.zeros((k, nmax, nmax))
        self.sorted_intra = np.zeros((k, nmax, nmax))  # rows of intra sorted (absolute-loss start)
        self.prefix_intra = np.zeros((k, nmax, nmax + 1))
        op_index = {op: v for v, op in enumerate(vocabulary)}
        for c, cell in enumerate(cells):
            _write_cell(self, c, _cell_arrays(cell, op_index, D, eps))


def _write_cell(packed, row: int, arrays) -> None:
    """Copy one cell's (ops, structure, intra, sorted rows, prefix sums) into ``packed``'s row."""
    ops, structure, intra, rows, prefix = arrays
    n = len(ops)
    packed.ops[row, :n] = ops
    packed.structure[row, :n] = structure
    packed.intra[row, :n, :n] = intra
    packed.sorted_intra[row, :n, :n] = rows
    packed.prefix_intra[row, :n, 1 : n + 1] = prefix


class CellStore:
    """Every cell a HOTNN has featurized, padded into growing arrays, so that packing a call's
    cells is a gather by index instead of a Python loop over cells (a BO run on the fly packs the
    same observed cells ~700 times). Op ids follow first sight; D(o, o') depends on the names only,
    so the arrays equal :class:`PackedCells`'."""

    def __init__(self, eps: float, variant_cost: float = 0.1) -> None:
        self.eps, self.variant_cost = eps, variant_cost
        self.index: dict[str, int] = {}  # cell key -> row
        self.keys: list[str] = []
        self.vocabulary: list[str] = []
        self._op_index: dict[str, int] = {}
        self.nmax = 0
        self._rows = 0
        self.sizes = np.zeros(0, dtype=np.int64)
        self.ops = np.zeros((0, 0), dtype=np.int64)
        self.structure = np.zeros((0, 0, STRUCTURE_DIMS))
        self.intra = np.zeros((0, 0, 0))
        self.sorted_intra = np.zeros((0, 0, 0))
        self.prefix_intra = np.zeros((0, 0, 1))

    @property
    def D(self) -> np.ndarray:
        return op_distance_table(self.vocabulary, self.variant_cost)

    def add(self, key: str, cell: CellGraph) -> int:
        """The row of ``cell`` (featurized on first sight)."""
        row = self.index.get(key)
        if row is not None:
            return row
        for op in (*cell.vocabulary, *cell.ops):
            if op not in self._op_index:
                self._op_index[op] = len(self.vocabulary)
                self.vocabulary.append(op)
        arrays = _cell_arrays(cell, self._op_index, self.D, self.eps)
        n = len(arrays[0])
        self._reserve(self._rows + 1, max(self.nmax, n))
        row = self._rows
        self.sizes[row] = n
        _write_cell(self, row, arrays)
        self.index[key] = row
        self.keys.append(key)
        self._rows += 1
        return row

    def _reserve(self, rows: int, nmax: int) -> None:
        capacity = len(self.sizes)
        if rows <= capacity and nmax <= self.nmax:
            return
        grown = max(rows, 2 * capacity, 64) if rows > capacity else capacity
        old, self.nmax = self._rows, max(nmax, self.nmax)
        def pad(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
            out = np.zeros(shape, dtype=array.dtype)
            out[(slice(0, old), *(slice(0, k) for k in array.shape[1:]))] = array[:old]
            return out
        m = self.nmax
        self.sizes = pad(self.sizes, (grown,))
        self.ops = pad(self.ops, (grown, m))
        self.structure = pad(self.structure, (grown, m, STRUCTURE_DIMS))
        self.intra = pad(self.intra, (grown, m, m))
        self.sorted_intra = pad(self.sorted_intra, (grown, m, m))
        self.prefix_intra = pad(self.prefix_intra, (grown, m, m + 1))

    def gather(self, rows: np.ndarray) -> "PackedCells":
        """The cells at ``rows`` as a :class:`PackedCells` (copies, contiguous)."""
        packed = PackedCells.__new__(PackedCells)
        packed.sizes = self.sizes[rows]
        packed.ops = self.ops[rows]
        packed.structure = self.structure[rows]
        packed.intra = self.intra[rows]
        packed.sorted_intra = self.sorted_intra[rows]
        packed.prefix_intra = self.prefix_intra[rows]
        return packed


def _cell_arrays(cell: CellGraph, op_index: dict[str, int], D: np.ndarray, eps: float):
    """(op ids, structural vectors, intra-cell cost C^p, its rows sorted, their prefix sums) of one cell."""
    ops = np.array([op_index[op] for op in cell.ops])
    s = cell_features(cell).structure
    h = np.abs(s[:, None, :] - s[None, :, :]).mean(axis=2)
    intra = eps * D[ops[:, None], ops[None, :]] + (1 - eps) * h
    rows = np.sort(intra, axis=1)
    return ops, s, intra, rows, np.cumsum(rows, axis=1)


def restart_permutations(nmax: int, restarts: int, seed: int = 0) -> np.ndarray:
    """perms[n, r, :n]: a fixed list of ``restarts − 1`` permutations of n items per size n."""
    rng = np.random.default_rng(seed)
    perms = np.zeros((nmax + 1, max(restarts - 1, 0), nmax), dtype=np.int64)
    for n in range(1, nmax + 1):
        for r in range(restarts - 1):
            perms[n, r, :n] = rng.permutation(n)
    return perms


class HOTNN(Distance):
    """Hierarchical OT distance; cells solved once per unique canonical cell pair."""

    name = "hotnn"
    multithreaded = True  # the compiled FGW solver runs pairs in parallel
    param_choices = {"loss": ("absolute", "square")}
    param_ranges = {"epsilon": (0.0, 1.0), "lam": (0.0, 1.0), "eta": (0.0, 1.0), "tol": (0.0, None),
                    "variant_cost": (0.0, 2.0)}

    def __init__(self, space: SearchSpace, epsilon: float = 0.5, lam: float = 0.5, eta: float = 0.2,
                 loss: str = "absolute", restarts: int = 1, max_iter: int = 100, tol: float = 1e-9,
                 variant_cost: float = 0.1, *, device: str = "cpu") -> None:
        super().__init__(space)
        if device not in ("cpu", "cuda", "auto"):
            raise ConfigError(f"hotnn: device must be cpu, cuda or auto, not {device!r}")
        self.device = device  # not a parameter of the values: both engines agree to rounding
        if not (0 <= epsilon <= 1 and 0 <= lam <= 1 and 0 <= eta <= 1):
            raise ConfigError(f"hotnn: epsilon, lam and eta must lie in [0, 1], got {epsilon}, {lam}, {eta}")
        if loss not in ("absolute", "square"):
            raise ConfigError(f"hotnn: loss must be 'absolute' (the paper's) or 'square', not {loss!r}")
        if restarts < 1 or max_iter < 1:
            raise ConfigError("hotnn: restarts and max_iter must be at least 1")
        if not 0 <= variant_cost <= 2:
            raise ConfigError(f"hotnn: variant_cost must lie in [0, 2], got {variant_cost}")
        self.variant_cost = float(variant_cost)
        self.epsilon, self.lam, self.eta, self.loss = float(epsilon), float(lam), float(eta), loss
        self.restarts, self.max_iter, self.tol = int(restarts), int(max_iter), float(tol)
        self._cells = CellStore(self.epsilon, self.variant_cost)  # every cell pairwise has seen, padded for the solver
        self._graph_memo: dict[str, Any] = {}  # (cell-store slots, single cell?) per architecture string

    def params(self) -> dict[str, Any]:
        params = {"epsilon": self.epsilon, "lam": self.lam, "eta": self.eta, "loss": self.loss,
                  "restarts": self.restarts, "max_iter": self.max_iter, "tol": self.tol}
        # the representation knob appears only when set, so matrices of the default keep their identity
        if self.variant_cost != 0.1:
            params["variant_cost"] = self.variant_cost
        return params

    def cell_distances(self, cells_a: Sequence[CellGraph], cells_b: Sequence[CellGraph] | None,
                       keys_a: Sequence[str], keys_b: Sequence[str] | None) -> np.ndarray:
        """iFGW matrix between two lists of unique cells (``None``: a against itself); ``keys`` name
        the cells in this instance's cell store."""
        pa = self._cells.gather(np.array([self._cells.add(k, c) for k, c in zip(keys_a, cells_a)], dtype=np.int64))
        pb = None if cells_b is None else self._cells.gather(
            np.array([self._cells.add(k, c) for k, c in zip(keys_b, cells_b)], dtype=np.int64))
        return self._solve_cells(pa, pb, keys_a, keys_b, self._cells.D)

    def _solve_cells(self, pa: PackedCells, pb: PackedCells | None, keys_a: Sequence[str],
                     keys_b: Sequence[str] | None, D: np.ndarray) -> np.ndarray:
        """iFGW between packed cells (``pb`` None: a against itself, each unordered pair once)."""
        from nasstages.distances import fgw_solver

        symmetric = pb is None
        pb = pa if pb is None else pb
        order = {key: r for r, key in enumerate(sorted(set(keys_a) | set(keys_b or [])))}
        rank_a = np.array([order[k] for k in keys_a], dtype=np.int64)
        rank_b = rank_a if symmetric else np.array([order[k] for k in keys_b], dtype=np.int64)
        nmax = int(max(pa.sizes.max(), pb.sizes.max()))
        perms = restart_permutations(nmax, self.restarts)
        if self._use_cuda():
            from nasstages.distances.fgw_cuda import ifgw_block_cuda

            return ifgw_block_cuda(pa, rank_a, pb, rank_b, D, self.epsilon, self.lam, fgw_solver.LOSSES[self.loss],
                                   perms, self.max_iter, self.tol, symmetric)
        out = np.zeros((len(pa.sizes), len(pb.sizes)))
        fgw_solver.ifgw_block(pa.ops, pa.structure, pa.intra, pa.sorted_intra, pa.prefix_intra, pa.sizes, rank_a,
                              pb.ops, pb.structure, pb.intra, pb.sorted_intra, pb.prefix_intra, pb.sizes, rank_b,
                              D, self.epsilon, self.lam, fgw_solver.LOSSES[self.loss], perms,
                              self.max_iter, self.tol, symmetric, out)
        return out

    def _use_cuda(self) -> bool:
        if self.device == "cpu":
            return False
        from nasstages.distances.fgw_cuda import cuda_available

        if cuda_available():
            return True
        if self.device == "cuda":
            raise ConfigError("hotnn: device 'cuda' asked for but no CUDA GPU is available; use device auto or cpu")
        return False

    def _network(self, arch: Arch) -> tuple[np.ndarray, bool]:
        """(cell-store row of each skeleton slot, whether one cell fills every slot), once per arch."""
        key = self.space.to_string(arch)
        info = self._graph_memo.get(key)
        if info is None:
            graph = self.space.to_graph(self.space.canonicalize(arch))
            rows = {name: self._cells.add(repr((name, cell.ops, cell.adjacency.tobytes())), cell)
                    for name, cell in graph.cells.items()}
            slots = np.array([rows[name] for name in graph.skeleton], dtype=np.int64)
            info = self._graph_memo[key] = (slots, bool(len(slots)) and bool(np.all(slots == slots[0])))
        return info

    def pairwise(self, archs_a: Sequence[Arch], archs_b: Sequence[Arch] | None = None) -> np.ndarray:
        net_a = [self._network(a) for a in archs_a]
        net_b = net_a if archs_b is None else [self._network(b) for b in archs_b]
        # the unique cells of each side (store rows, sorted) and each network's slots among them
        local = np.full(len(self._cells.keys), -1, dtype=np.int64)
        cells_a = np.unique(np.concatenate([slots for slots, _ in net_a]))
        pa = self._cells.gather(cells_a)
        keys_a = [self._cells.keys[r] for r in cells_a]
        D = self._cells.D
        if archs_b is None:
            cell_d = self._solve_cells(pa, None, keys_a, None, D)
            cells_b = cells_a
        else:
            cells_b = np.unique(np.concatenate([slots for slots, _ in net_b]))
            cell_d = self._solve_cells(pa, self._cells.gather(cells_b), keys_a, [self._cells.keys[r] for r in cells_b], D)
        local[cells_a] = np.arange(len(cells_a))
        if all(single for _, single in net_a) and all(single for _, single in net_b) and \
                len({len(slots) for slots, _ in net_a} | {len(slots) for slots, _ in net_b}) == 1:
            # every network repeats one cell through skeletons of one length (NB201): the EMD is
            # the identity matching, HOTNN = (1 − η) iFGW of the cells (as network_distances has it)
            first_a = local[np.array([slots[0] for slots, _ in net_a])]
            if archs_b is not None:
                local[cells_b] = np.arange(len(cells_b))
            first_b = first_a if archs_b is None else local[np.array([slots[0] for slots, _ in net_b])]
            out = (1.0 - self.eta) * cell_d[first_a[:, None], first_b[None, :]]
            if archs_b is None:
                np.fill_diagonal(out, 0.0)
            return out
        pos_a = [local[slots] for slots, _ in net_a]
        if archs_b is None:
            pos_b = pos_a
        else:
            local[cells_b] = np.arange(len(cells_b))
            pos_b = [local[slots] for slots, _ in net_b]
        out = network_distances(cell_d, pos_a, pos_b, self.eta)
        if archs_b is None:
            np.fill_diagonal(out, 0.0)
        return out


def network_distances(cell_d: np.ndarray, slots_a: list[np.ndarray], slots_b: list[np.ndarray],
                      eta: float) -> np.ndarray:
    """HOTNN between networks from cell-level iFGW: EMD with cost (1−η) iFGW + η |Δpos|.

    Networks whose skeletons repeat a single cell and have equal length reduce to
    (1 − η) iFGW (the EMD's optimal plan is the identity); the rest go to the compiled exact
    solver :func:`network_emd_block` (checked against POT's ``ot.emd2`` in the tests).
    """
    single_a = np.array([len(s) and np.all(s == s[0]) for s in slots_a])
    single_b = single_a if slots_b is slots_a else np.array([len(s) and np.all(s == s[0]) for s in slots_b])
    len_a = np.array([len(s) for s in slots_a])
    len_b = len_a if slots_b is slots_a else np.array([len(s) for s in slots_b])
    first_a = np.array([s[0] for s in slots_a])
    first_b = first_a if slots_b is slots_a else np.array([s[0] for s in slots_b])
    out = (1.0 - eta) * cell_d[first_a[:, None], first_b[None, :]]
    fast = single_a[:, None] & single_b[None, :] & (len_a[:, None] == len_b[None, :])
    if not fast.all():
        rows, cols = np.nonzero(~fast)
        padded_a = _pad(slots_a)
        padded_b = padded_a if slots_b is slots_a else _pad(slots_b)
        from nasstages.distances.fgw_solver import network_emd_block

        values = np.empty(len(rows))
        network_emd_block(np.ascontiguousarray(cell_d, dtype=np.float64), padded_a, len_a.astype(np.int64),
                          padded_b, len_b.astype(np.int64), rows.astype(np.int64), cols.astype(np.int64),
                          float(eta), values)
        for k in np.flatnonzero(np.isnan(values)):  # the compiled solver's guard: POT instead
            values[k] = network_emd_reference(cell_d, slots_a[rows[k]], slots_b[cols[k]], eta)
        out[rows, cols] = values
    return out


def network_emd_reference(cell_d: np.ndarray, sa: np.ndarray, sb: np.ndarray, eta: float) -> float:
    """One network pair with POT's exact ``ot.emd2`` (the oracle for :func:`network_emd_block`)."""
    import ot

    pa = np.arange(len(sa)) / max(len(sa) - 1, 1)
    pb = np.arange(len(sb)) / max(len(sb) - 1, 1)
    cost = (1.0 - eta) * cell_d[sa[:, None], sb[None, :]] + eta * np.abs(pa[:, None] - pb[None, :])
    return float(ot.emd2(np.full(len(sa), 1 / len(sa)), np.full(len(sb), 1 / len(sb)), cost))


def _pad(slots: list[np.ndarray]) -> np.ndarray:
    out = np.zeros((len(slots), max(len(s) for s in slots)), dtype=np.int64)
    for k, s in enumerate(slots):
        out[k, :len(s)] = s
    return out
