"""OTMANN, the optimal-transport network distance of NASBOT (Kandasamy et al., NeurIPS 2018, §3).

Layers are the active nodes of the op-on-node cell graph (input and output always included).
Defaults follow the reference code (``kirthevasank/nasbot``):

* layer mass ℓm (``nn/neural_network.py`` ``compute_layer_masses``): a conv layer in-channels ×
  units, a pooling layer its in-channels, input / output max(ζ Σ processing masses, 100)
  (``_NON_PROC_LAYERY_MASS_FRAC`` ζ = 0.1). Every cell's tensors have ``channels`` channels (16:
  NB201's first stage); NB201 and TransNAS sum a node's inputs, so a layer's in-channels are its
  parents' (the reference concatenates), and a ``widen`` op doubles them. Skip connections, which
  NASBOT has no label for, weigh as pooling (parameter-free);
* label mismatch C_lmm (``nn/nn_comparators.py`` ``get_cnn_layer_label_mismatch_penalties``): 0 for
  equal ops, ``conv_scale`` √|k − k'| between two convs of one kind (√2/10: conv1×1–conv3×3 0.2),
  the reference's conv–res rule 0.9 raw + 0.1 ν_nas between two conv kinds (sep vs dil, plain vs
  widen / stride 2), 0.5 between two pools, "infinite" (never matched) otherwise; we add 0.5 for
  identity–pool (NASBOT has no identity layer);
* structural cost C_str(i, j) (``get_struct_cost_matrix``): mean absolute difference of the
  shortest, longest and random-walk path lengths from the input and to the output, for the layer
  groups all / conv / pool / fc (an edge counts toward a group's lengths when it leaves a layer of
  the group): 24 lengths per layer;
* non-assignment: mass left unmatched costs ``nu_nas`` per unit.

OTMANN = min_Z <Z, C_lmm + ν_str C_str> + ν_nas (unassigned mass), solved as one exact OT
problem on masses augmented with one dummy layer per side (paper eq. 3) by the compiled solver
of :mod:`nasstages.distances.otmann_solver` (POT's ``emd2`` is its oracle and fallback);
``normalize`` divides by the total mass of both networks (the paper's d̄, the reference's
``emd``). NASBOT's GP sums exponentiated kernels over eight such distances (ν_str 0.1–0.8, lp and
emd); the metric ``otmann_lpemd`` (:class:`OTMANNLpEmd`) gives those eight as one stack (the
NASBOT method's default kernel, :class:`~nasstages.surrogates.lpemd_gp.LpEmdDistanceGP`),
``otmann`` one (ν_str 0.5, normalized: the ``nasbot_otmann`` variant's).

``masses: kernel``, ``pool_mismatch: 0.2``, ``conv_mismatch: 0.2``, ``path_groups: all`` and
``io_mass_floor: 0.1`` give our earlier distance (conv mass k², pool / identity 1).
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from nasstages.distances.base import Distance, unique_index
from nasstages.distances.cells import active_adjacency
from nasstages.distances.ops import category, kernel_size
from nasstages.errors import ConfigError
from nasstages.spaces import Arch, SearchSpace

NEVER = 1e6  # "infinite" label mismatch: the non-assignment option is always cheaper


CONV_KIND = re.compile(r"_?\d+x\d+")


def _mismatch(a: str, b: str, conv_scale: float, conv_mismatch: float | None = None, pool_mismatch: float = 0.5,
              nu_nas: float = 1.0) -> float:
    """C_lmm(a, b): NASBOT's label mismatch, extended to identity (module docstring)."""
    if a == b:
        return 0.0
    ca, cb = category(a), category(b)
    if ca == cb == "conv":
        if conv_mismatch is not None:
            return conv_mismatch
        raw = conv_scale * np.sqrt(abs(kernel_size(a) - kernel_size(b))) * nu_nas
        if CONV_KIND.sub("", a) == CONV_KIND.sub("", b):
            return float(raw)
        return float(raw if raw > nu_nas else 0.9 * raw + 0.1 * nu_nas)  # the reference's conv-res rule
    if ca == cb == "pool":
        return pool_mismatch * nu_nas
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


PATH_GROUPS = {"nasbot": ("all", "conv", "pool", "fc"), "all": ("all",)}  # the reference's CNN groups
NASBOT_STRUCT_COEFFS = (0.1, 0.2, 0.4, 0.8)  # nn/nn_gp.py: struct_coeffs '0.1-0.2-0.4-0.8'


def _path_lengths(adj: np.ndarray, nodes: np.ndarray, counts: list[bool] | None = None) -> np.ndarray:
    """(len(nodes), 6): shortest, longest, random-walk path lengths from input, then to output;
    an edge i -> j adds ``counts[i]`` (default: every edge 1).

    Plain Python over parent lists (numpy's per-call overhead on a handful of nodes made this
    most of building a network's layers); the means sum in numpy's order, so values are equal."""
    n = adj.shape[0]
    rows = np.asarray(adj, dtype=bool).tolist()
    step = [1.0] * n if counts is None else [1.0 if c else 0.0 for c in counts]
    out = [[0.0] * 6 for _ in range(n)]
    for j in range(1, n):
        parents = [i for i in range(j) if rows[i][j]]
        if parents:
            out[j][0] = min(step[i] + out[i][0] for i in parents)
            out[j][1] = max(step[i] + out[i][1] for i in parents)
            out[j][2] = _mean([step[i] + out[i][2] for i in parents])
    for i in range(n - 2, -1, -1):
        children = [j for j in range(i + 1, n) if rows[i][j]]
        if children:
            out[i][3] = step[i] + min(out[j][3] for j in children)
            out[i][4] = step[i] + max(out[j][4] for j in children)
            out[i][5] = step[i] + _mean([out[j][5] for j in children])
    return np.array(out, dtype=np.float64).reshape(n, 6)[nodes]


def group_path_lengths(adj: np.ndarray, nodes: np.ndarray, ops: list[str], groups: tuple[str, ...]) -> np.ndarray:
    """(len(nodes), 6 × len(groups)): :func:`_path_lengths` per layer group ('all' counts every edge,
    a category only the edges leaving its layers: NASBOT's ``_compute_ip_op_path_lengths``)."""
    return np.concatenate([_path_lengths(adj, nodes, None if g == "all" else [category(op) == g for op in ops])
                           for g in groups], axis=1)


def layer_masses(ops: list[str], adj: np.ndarray, nodes: np.ndarray, channels: int, io_mass: float,
                 io_mass_floor: float) -> np.ndarray:
    """NASBOT's layer masses of the active layers ``nodes`` (module docstring)."""
    width = {}
    masses = []
    for j in nodes:
        parents = [i for i in nodes if i < j and adj[i, j]]
        inputs = max((width[i] for i in parents), default=channels)
        op = ops[j]
        width[j] = 2 * inputs if category(op) == "conv" and "widen" in op else inputs
        masses.append(float(inputs * width[j]) if category(op) == "conv" else float(inputs))
    mass = np.array(masses)
    io = np.array([category(ops[j]) == "io" for j in nodes])
    mass[io] = max(io_mass * mass[~io].sum(), io_mass_floor)
    return mass


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
    """NASBOT's OTMANN distance on op-on-node cell graphs (module docstring)."""

    name = "otmann"
    multithreaded = True  # the compiled solver runs a block's rows in parallel

    param_ranges = {"nu_str": (0.0, None), "nu_nas": (0.0, None), "io_mass": (0.0, None), "io_mass_floor": (0.0, None),
                    "conv_scale": (0.0, None), "pool_mismatch": (0.0, None), "channels": (1, None)}
    param_choices = {"masses": ("nasbot", "kernel"), "path_groups": tuple(PATH_GROUPS)}

    def __init__(self, space: SearchSpace, nu_str: float = 0.5, nu_nas: float = 1.0, io_mass: float = 0.1,
                 io_mass_floor: float = 100.0, channels: int = 16, masses: str = "nasbot",
                 conv_scale: float = float(np.sqrt(2) / 10), conv_mismatch: float | None = None,
                 pool_mismatch: float = 0.5, path_groups: str = "nasbot", normalize: bool = True) -> None:
        super().__init__(space)
        if min(nu_str, nu_nas, io_mass, io_mass_floor, conv_scale, pool_mismatch) < 0 or \
                (conv_mismatch is not None and conv_mismatch < 0):
            raise ConfigError("otmann: nu_str, nu_nas, io_mass, io_mass_floor, conv_scale, conv_mismatch and "
                              "pool_mismatch must be non-negative")
        if masses not in ("nasbot", "kernel") or path_groups not in PATH_GROUPS or int(channels) < 1:
            raise ConfigError(f"otmann: masses must be nasbot or kernel, path_groups one of {sorted(PATH_GROUPS)}, "
                              "channels at least 1")
        if io_mass_floor <= 0:
            raise ConfigError("otmann: io_mass_floor must be positive (an all-skip cell has no processing mass)")
        self.nu_str, self.nu_nas, self.io_mass, self.io_mass_floor = float(nu_str), float(nu_nas), float(io_mass), \
            float(io_mass_floor)
        self.channels, self.masses, self.path_groups = int(channels), masses, path_groups
        self.conv_scale, self.pool_mismatch = float(conv_scale), float(pool_mismatch)
        self.conv_mismatch = None if conv_mismatch is None else float(conv_mismatch)
        self.normalize = bool(normalize)
        self._op_index: dict[str, int] = {}  # op name -> id used in layers()

    def params(self) -> dict[str, Any]:
        return {"nu_str": self.nu_str, "nu_nas": self.nu_nas, "io_mass": self.io_mass,
                "io_mass_floor": self.io_mass_floor, "channels": self.channels, "masses": self.masses,
                "conv_scale": self.conv_scale, "conv_mismatch": self.conv_mismatch,
                "pool_mismatch": self.pool_mismatch, "path_groups": self.path_groups, "normalize": self.normalize}

    def mismatch(self, a: str, b: str) -> float:
        """C_lmm between two op names under this instance's parameters."""
        return _mismatch(a, b, self.conv_scale, self.conv_mismatch, self.pool_mismatch, self.nu_nas)

    def layers(self, arch: Arch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(op ids, masses, path lengths) of the network's layers (its cells chained into one graph).

        Op ids index ``self._op_index``, which grows as new ops are seen."""
        cell = self.space.network_graph(self.space.canonicalize(arch))
        active, adj = active_adjacency(cell)
        active[0] = active[-1] = True
        nodes = np.flatnonzero(active)
        cell_ops = [cell.ops[k] for k in nodes]  # names here; ids below
        if self.masses == "nasbot":
            mass = layer_masses(list(cell.ops), adj, nodes, self.channels, self.io_mass, self.io_mass_floor)
        else:
            mass = np.array([float(kernel_size(op) ** 2) if category(op) == "conv" else 1.0 for op in cell_ops])
            io = np.array([category(op) == "io" for op in cell_ops])
            mass[io] = max(self.io_mass * mass[~io].sum(), self.io_mass_floor)
        ops = [self._op_index.setdefault(op, len(self._op_index)) for op in cell_ops]
        paths = group_path_lengths(adj, nodes, list(cell.ops), PATH_GROUPS[self.path_groups])
        return np.array(ops, dtype=np.int64), mass, np.ascontiguousarray(paths)

    def memoized_layers(self, key: Arch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`layers` of a canonical architecture, computed once per instance (a BO run asks
        for the same observed networks every round; building them was half its time)."""
        memo = self.__dict__.setdefault("_layer_memo", {})
        if key not in memo:
            memo[key] = self.layers(key)
        return memo[key]

    def pairwise(self, archs_a: Sequence[Arch], archs_b: Sequence[Arch] | None = None,
                 show_progress: bool = False) -> np.ndarray:
        return self._solve_stack(archs_a, archs_b, (self.nu_str,), self.normalize, show_progress)[0][0]

    def lpemd_stack(self, archs_a: Sequence[Arch], archs_b: Sequence[Arch] | None = None,
                    struct_coeffs: Sequence[float] = NASBOT_STRUCT_COEFFS) -> np.ndarray:
        """NASBOT's GP distances (``nn/nn_comparators.py`` ``OTMANNDistanceComputer.evaluate_single``
        with ``dist_type='lp-emd'``): one exact OT solve per structural coefficient ν_str (mislabel
        coefficient 1) gives the unnormalized cost ``lp`` and the same cost over both networks' total
        mass ``emd`` (``utils/oper_utils.py`` ``opt_transport``). Returns (2T, a, b): the T lp
        matrices, then the T emd matrices, in ``struct_coeffs`` order."""
        lp, (total_a, total_b) = self._solve_stack(archs_a, archs_b, tuple(float(c) for c in struct_coeffs), False,
                                                   False)
        return np.concatenate([lp, lp / (total_a[:, None] + total_b[None, :])[None]])

    def _solve_stack(self, archs_a: Sequence[Arch], archs_b: Sequence[Arch] | None, nu_strs: tuple[float, ...],
                     normalize: bool, show_progress: bool) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """(len(nu_strs), a, b): OTMANN for each structural coefficient, the networks packed once;
        and each network's total layer mass, of ``archs_a`` and of ``archs_b``."""
        from nasstages.distances.otmann_solver import otmann_block

        keys_a, idx_a = unique_index([self.space.canonicalize(a) for a in archs_a])
        keys_b, idx_b = (keys_a, idx_a) if archs_b is None else unique_index(
            [self.space.canonicalize(b) for b in archs_b])
        union, _ = unique_index(keys_a + keys_b)
        position = {key: k for k, key in enumerate(union)}
        layers = [self.memoized_layers(key) for key in union]
        names = list(self._op_index)
        table = np.array([[self.mismatch(x, y) for y in names] for x in names])
        # each pair solved in one orientation (the canonical order's first network first), so
        # its value is the same whichever tile or call solves it
        rank = np.empty(len(union), dtype=np.int64)
        rank[sorted(range(len(union)), key=lambda k: union[k])] = np.arange(len(union))
        sizes = np.array([len(m) for _, m, _ in layers], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        ops = np.concatenate([o for o, _, _ in layers]).astype(np.int64)
        mass = np.concatenate([m for _, m, _ in layers])
        paths = np.concatenate([p for _, _, p in layers])
        path_count = paths.shape[1]
        # columns equal for every network here add exactly 0.0 to every pair's sum (half of the
        # 24 on TNB101 macro: its networks have no fc layer, and pooling few paths), so dropping
        # them leaves each value bitwise unchanged, whichever call computes it
        varying = np.flatnonzero((paths != paths[:1]).any(axis=0)) if len(paths) else np.arange(path_count)
        paths = np.ascontiguousarray(paths[:, varying])
        rows = np.array([position[k] for k in keys_a], dtype=np.int64)
        cols = np.array([position[k] for k in keys_b], dtype=np.int64)
        square = archs_b is None
        step = max(1, min(len(rows), 256)) if show_progress else max(len(rows), 1)
        out = np.empty((len(nu_strs), len(idx_a), len(idx_b)))
        for t, nu_str in enumerate(nu_strs):
            unique = np.zeros((len(rows), len(cols)))
            for lo in tqdm(range(0, len(rows), step), disable=not show_progress, desc="otmann", mininterval=2):
                hi = min(lo + step, len(rows))
                # in a square call rows lo.. only need columns after them (upper triangle)
                cols_here = cols[lo:] if square else cols
                block = np.zeros((hi - lo, len(cols_here)))
                otmann_block(rows[lo:hi], cols_here, ops, mass, paths, path_count, offsets, rank, table, nu_str,
                             self.nu_nas, normalize, square, int(sizes.max()), block)
                unique[lo:hi, (lo if square else 0):] = block
            if square:  # the blocks filled the upper triangle only
                unique = unique + unique.T
            for r, c in zip(*np.nonzero(np.isnan(unique))):  # the compiled solver's guard: POT instead
                unique[r, c] = self._solve_with_pot(layers[rows[r]], layers[cols[c]], table,
                                                    rank[rows[r]] < rank[cols[c]], nu_str, normalize)
            out[t] = unique[idx_a[:, None], idx_b[None, :]]
        totals = np.array([m.sum() for _, m, _ in layers])
        return out, (totals[rows][idx_a], totals[cols][idx_b])

    def _solve_with_pot(self, first: tuple, second: tuple, table: np.ndarray, forward: bool,
                        nu_str: float | None = None, normalize: bool | None = None) -> float:
        """One pair by POT's network simplex (the fallback when the compiled solver gives up)."""
        nu_str = self.nu_str if nu_str is None else nu_str
        normalize = self.normalize if normalize is None else normalize
        if not forward:
            first, second = second, first
        (ops_a, mass_a, paths_a), (ops_b, mass_b, paths_b) = first, second
        cost = np.full((len(mass_a) + 1, len(mass_b) + 1), self.nu_nas)
        cost[:-1, :-1] = table[ops_a[:, None], ops_b[None, :]] + nu_str * np.abs(
            paths_a[:, None, :] - paths_b[None, :, :]).mean(axis=2)
        cost[-1, -1] = 0.0
        a, b = np.append(mass_a, mass_b.sum()), np.append(mass_b, mass_a.sum())
        value = exact_emd_cost(a, b, cost)
        return value / (mass_a.sum() + mass_b.sum()) if normalize else value


class OTMANNLpEmd(OTMANN):
    """NASBOT's GP distances as one stacked metric (``otmann_lpemd``): for each structural
    coefficient of ``struct_coeffs`` its lp (OT cost) and emd (cost over total mass), in
    :meth:`OTMANN.lpemd_stack`'s order, 2T × a × b. OTMANN's other parameters as ``otmann``'s;
    stored as a T-term matrix by the distance stage, or computed on the fly by a search."""

    name = "otmann_lpemd"
    stacked = True  # pairwise gives a stack of len(terms) matrices
    param_ranges = {k: v for k, v in OTMANN.param_ranges.items() if k != "nu_str"}

    def __init__(self, space: SearchSpace, struct_coeffs: Sequence[float] = NASBOT_STRUCT_COEFFS, nu_nas: float = 1.0,
                 io_mass: float = 0.1, io_mass_floor: float = 100.0, channels: int = 16, masses: str = "nasbot",
                 conv_scale: float = float(np.sqrt(2) / 10), conv_mismatch: float | None = None,
                 pool_mismatch: float = 0.5, path_groups: str = "nasbot") -> None:
        super().__init__(space, nu_nas=nu_nas, io_mass=io_mass, io_mass_floor=io_mass_floor, channels=channels,
                         masses=masses, conv_scale=conv_scale, conv_mismatch=conv_mismatch,
                         pool_mismatch=pool_mismatch, path_groups=path_groups)
        if isinstance(struct_coeffs, (str, bytes)) or not hasattr(struct_coeffs, "__iter__") or not struct_coeffs \
                or not all(isinstance(c, (int, float)) and not isinstance(c, bool) and c >= 0 for c in struct_coeffs):
            raise ConfigError(f"otmann_lpemd: struct_coeffs must be a list of non-negative numbers (NASBOT's: "
                              f"[0.1, 0.2, 0.4, 0.8]), not {struct_coeffs!r}")
        self.struct_coeffs = tuple(float(c) for c in struct_coeffs)
        self.terms = tuple(f"lp_{c:g}" for c in self.struct_coeffs) + tuple(f"emd_{c:g}" for c in self.struct_coeffs)

    def params(self) -> dict[str, Any]:
        values = {k: v for k, v in super().params().items() if k not in ("nu_str", "normalize")}
        return {**values, "struct_coeffs": list(self.struct_coeffs)}

    def pairwise(self, archs_a: Sequence[Arch], archs_b: Sequence[Arch] | None = None,
                 show_progress: bool = False) -> np.ndarray:
        """(2T, a, b): the lp matrices, then the emd matrices."""
        return self.lpemd_stack(archs_a, archs_b, self.struct_coeffs)
