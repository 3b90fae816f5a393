"""Tree-Wasserstein architecture distance of TW-NAS (Nguyen, Le, Yamada, Osborne, ICML 2021).

TW(μ, ν) = Σ_e w_e |μ(Γ_e) − ν(Γ_e)| (the paper's eq. 2), Γ_e the leaves below tree edge e, so
TW is the L1 distance between the embeddings (w_e μ(Γ_e))_e: negative definite, and exp(−t d)
a positive-definite kernel. d = λ_o W_op + λ_in W_in + λ_out W_out (§3).

Op term (reference: ``ntienvu/TW_NAS``, ``tw_2g_v2b.py`` ``TW_Operations_NB201`` and
``TreeMetric_Mapping_2G_NASBENCH201``; counts from ``nas_bench/cell.py``
``count_operation_2gram``): the mass is the counts of the cell's 1-grams (ops of op nodes) and
2-grams (ordered op pairs joined by an edge, input / output excluded), ``none`` dropped,
normalized jointly to 1. The tree: root –1– "1-gram" –b– op category –a– op, and root –1–
"2-gram" –b– unordered category pair –ab– subgroup –aa– ordered op pair, with a = ``alpha`` = 0.1
(hard-coded there), b = 1 − a; the subgroup is the ordered category pair (conv→pool vs
pool→conv) for two categories, "same op" vs "different op" within one (the reference's s-conv
and d-conv). A chain of single children is one edge of the summed weight, which is how the
reference's 33-node NB201 tree reads (avg and skip leaves of weight 1 = b + a; skip-skip 1).
The reference's mapping has three index slips (its "conv" node sums conv1×1 + avg, its "1-gram"
node omits skip, its "2-gram" node omits skip→skip); we follow the tree it describes.

Degree terms (``AccumulateLayerOrder`` and ``TW_Chain``): a node's layer is its hop distance
from the input; the in- (out-) degrees of a layer's nodes are summed, the per-layer vector
normalized (uniform if all zero), bin i of an L-layer cell placed at i/L on a chain, and W is the
1-D Wasserstein distance, here the L1 distance of the CDFs sampled on a common grid of every
i/L (exact: the CDFs are steps on it). The reference computes degrees on a random DAG that its
NB201 cells never use (and on NB201's fixed line graph they would be constant); we take the
graph the cell computes, its ``none`` nodes removed.

λ: the reference fits one length-scale per term, k = exp(−W_op/ℓ₁ − W_in/ℓ₂ − W_out/ℓ₃)
(``bo/pp/pp_gp_my_distmat.py``); TW-NAS's GP does so too (``lengthscales: per_term``, each term's
block from :meth:`TreeWasserstein.term_slices`), so the λ's here only weight the matrices the
distance stage stores (default equal) and the shared-length-scale variant ``twnas_shared``.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from nasstages.distances.base import FeatureDistance
from nasstages.distances.ops import category
from nasstages.errors import ConfigError
from nasstages.spaces import Arch, CellGraph, SearchSpace

MAX_LAYERS = 16  # the chain grid holds every i/L for L ≤ this many layers


def _op_vocabulary(cell: CellGraph) -> list[str]:
    """The ops the tree has leaves for: the cell vocabulary without ``none`` and input / output."""
    return [op for op in cell.vocabulary if category(op) not in ("none", "io")]


@functools.lru_cache(maxsize=None)
def op_tree(vocabulary: tuple[str, ...], ngram: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(membership, weights): membership[e, l] = 1 if mass slot l lies below tree edge e.

    Slots are the 1-grams (one per op) then, for ``ngram`` 2, the ordered pairs (o, o')."""
    a, b = alpha, 1.0 - alpha
    ops = list(vocabulary)
    slots: list[tuple[str, ...]] = [(op,) for op in ops]
    if ngram == 2:
        slots += [(o, p) for o in ops for p in ops]
    edges: dict[tuple, tuple[float, list[int]]] = {}

    def add(key: tuple, weight: float, slot: int) -> None:
        edges.setdefault(key, (weight, []))[1].append(slot)

    for s, gram in enumerate(slots):
        if len(gram) == 1:
            add(("1-gram",), 1.0, s)
            add(("1-gram", category(gram[0])), b, s)
            add(("1-gram", gram), a, s)
        else:
            (o, p), (co, cp) = gram, (category(gram[0]), category(gram[1]))
            pair = tuple(sorted((co, cp)))
            subgroup = (co, cp) if co != cp else ("same" if o == p else "different",)
            add(("2-gram",), 1.0, s)
            add(("2-gram", pair), b, s)
            add(("2-gram", pair, subgroup), a * b, s)
            add(("2-gram", gram), a * a, s)
    membership = np.zeros((len(edges), len(slots)))
    weights = np.zeros(len(edges))
    for e, (weight, members) in enumerate(edges.values()):
        membership[e, members] = 1.0
        weights[e] = weight
    return membership, weights


def gram_counts(cell: CellGraph, ngram: int) -> np.ndarray:
    """Counts of the 1-grams (and 2-grams) of ``cell`` in :func:`op_tree`'s slot order."""
    ops = _op_vocabulary(cell)
    index = {op: k for k, op in enumerate(ops)}
    counted = [k for k, op in enumerate(cell.ops) if op in index]
    counts = np.zeros(len(ops) + (len(ops) ** 2 if ngram == 2 else 0))
    for k in counted:
        counts[index[cell.ops[k]]] += 1
    if ngram == 2:
        adjacency = np.asarray(cell.adjacency)
        for i in counted:
            for j in counted:
                if adjacency[i, j]:
                    counts[len(ops) + index[cell.ops[i]] * len(ops) + index[cell.ops[j]]] += 1
    return counts


def layer_degree_masses(cell: CellGraph) -> tuple[np.ndarray, np.ndarray]:
    """(in-degree, out-degree) mass per layer (hop distance from the input), each summing to 1,
    on the cell's graph with its ``none`` nodes removed; unreachable nodes carry no mass."""
    keep = np.array([category(op) != "none" for op in cell.ops])
    adjacency = np.asarray(cell.adjacency, dtype=bool) & keep[:, None] & keep[None, :]
    n = len(cell.ops)
    successors = [[j for j, edge in enumerate(row) if edge] for row in adjacency.tolist()]
    layer = [-1] * n
    layer[0] = 0
    frontier = [0]
    while frontier:  # breadth-first: hop distances from the input
        nxt = []
        for i in frontier:
            for j in successors[i]:
                if layer[j] < 0:
                    layer[j] = layer[i] + 1
                    nxt.append(j)
        frontier = nxt
    layers = max(layer) + 1
    if layers > MAX_LAYERS:
        raise ConfigError(f"tw: a cell with {layers} layers exceeds the chain grid's {MAX_LAYERS}")
    depth = np.array(layer)
    reached = depth >= 0
    out = []
    for degree in (adjacency.sum(axis=0), adjacency.sum(axis=1)):
        # integer degrees summed per layer: exact in floating point, whatever the order
        mass = np.bincount(depth[reached], weights=degree[reached], minlength=layers).astype(np.float64)
        total = mass.sum()
        out.append(mass / total if total > 0 else np.full(layers, 1.0 / layers))
    return out[0], out[1]


@functools.lru_cache(maxsize=1)
def _chain_grid() -> np.ndarray:
    return np.unique([i / L for L in range(1, MAX_LAYERS + 1) for i in range(L)])


@functools.lru_cache(maxsize=None)
def _chain_lookup(layers: int) -> tuple[np.ndarray, np.ndarray]:
    """(CDF index at each grid point, grid interval widths) for an L-layer chain: fixed per L."""
    grid = _chain_grid()
    positions = np.arange(layers) / layers
    return np.searchsorted(positions, grid, side="right"), np.diff(grid)


def chain_embedding(mass: np.ndarray) -> np.ndarray:
    """Embedding whose L1 distances are 1-D Wasserstein distances between chains (bin i at i/L)."""
    index, widths = _chain_lookup(len(mass))
    cdf = np.concatenate([[0.0], np.cumsum(mass)])[index]
    return cdf[:-1] * widths  # beyond the grid's last point both CDFs are 1


def cell_embedding(cell: CellGraph, ngram: int = 2, alpha: float = 0.1, lambda_ops: float = 1.0,
                   lambda_in: float = 1.0, lambda_out: float = 1.0) -> np.ndarray:
    """The cell's TW embedding: L1 distances between two of these are d of the module docstring."""
    counts = gram_counts(cell, ngram)
    mass = counts / counts.sum() if counts.sum() > 0 else counts  # an all-none cell: no op mass
    membership, weights = op_tree(tuple(_op_vocabulary(cell)), ngram, alpha)
    indegree, outdegree = layer_degree_masses(cell)
    return np.concatenate([lambda_ops * weights * (membership @ mass), lambda_in * chain_embedding(indegree),
                           lambda_out * chain_embedding(outdegree)])


class TreeWasserstein(FeatureDistance):
    """TW-NAS's tree-Wasserstein distance (module docstring): n-gram op tree plus in/out-degree
    chains over layer depth, as the reference code builds them."""

    name = "tw"
    requires = {"single_cell": "the tree-Wasserstein encoding is defined on one cell"}
    metric = "cityblock"
    param_choices = {"ngram": (1, 2)}

    def __init__(self, space: SearchSpace, ngram: int = 2, alpha: float = 0.1, lambda_ops: float = 1.0,
                 lambda_in: float = 1.0, lambda_out: float = 1.0) -> None:
        super().__init__(space)
        if ngram not in (1, 2):
            raise ConfigError(f"tw: ngram must be 1 or 2, not {ngram!r}")
        if not 0 < alpha < 1:
            raise ConfigError(f"tw: alpha must be in (0, 1), not {alpha!r}")
        if min(lambda_ops, lambda_in, lambda_out) < 0:
            raise ConfigError("tw: lambda_ops, lambda_in and lambda_out must be non-negative")
        self.ngram, self.alpha = int(ngram), float(alpha)
        self.lambda_ops, self.lambda_in, self.lambda_out = float(lambda_ops), float(lambda_in), float(lambda_out)

    def params(self) -> dict[str, Any]:
        return {"ngram": self.ngram, "alpha": self.alpha, "lambda_ops": self.lambda_ops,
                "lambda_in": self.lambda_in, "lambda_out": self.lambda_out}

    terms = ("ops", "in_degree", "out_degree")

    def term_slices(self, arch: Arch) -> list[slice]:
        """Where W_op, W_in and W_out sit in :meth:`features` (one cell: op tree, in-, out-degree
        chain): the L1 distance over each slice is that term, times its λ."""
        graph = self.space.to_graph(self.space.canonicalize(arch))
        if len(graph.cells) != 1:
            raise ConfigError("tw: per-term distances are defined on single-cell spaces")
        cell = next(iter(graph.cells.values()))
        tree_edges = len(op_tree(tuple(_op_vocabulary(cell)), self.ngram, self.alpha)[1])
        chain = len(_chain_grid()) - 1  # chain_embedding: one entry per grid interval
        return [slice(0, tree_edges), slice(tree_edges, tree_edges + chain),
                slice(tree_edges + chain, tree_edges + 2 * chain)]

    def features(self, archs: Sequence[Arch]) -> np.ndarray:
        rows = []
        for arch in archs:
            graph = self.space.to_graph(self.space.canonicalize(arch))
            rows.append(np.concatenate([
                cell_embedding(graph.cells[name], self.ngram, self.alpha, self.lambda_ops, self.lambda_in,
                               self.lambda_out) for name in sorted(graph.cells)]))
        return np.array(rows)
