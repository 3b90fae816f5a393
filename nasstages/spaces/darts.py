"""The DARTS search space (Liu et al., ICLR 2019): a normal and a reduction cell.

Each cell has two inputs (states 0 and 1: the outputs of the two previous cells) and four
intermediate nodes (states 2..5); node ``k`` takes two *distinct* earlier states, each through
one op of :data:`DARTS_OPS`, and sums them; the cell outputs the concatenation of states 2..5.
An architecture is ``(normal, reduce)``, each a tuple of 8 ``(op, input)`` pairs in DARTS's
genotype order (node 2's two edges, then node 3's, ...), so the string form is exactly DARTS's
``Genotype(normal=[...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])``.

The network (``to_graph``) is the CIFAR skeleton: ``layers`` cells with reduction cells at
``layers // 3`` and ``2 * layers // 3``, so HOTNN's network level moves mass between normal and
reduction cells only through its op cost and position term.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import re
from typing import Sequence

import numpy as np

from nasstages.spaces.base import ArchGraph, CellGraph, SearchSpace

DARTS_OPS: tuple[str, ...] = (
    "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
)
N_NODES = 4          # intermediate nodes per cell
CONCAT = (2, 3, 4, 5)
CELL_TYPES = ("normal", "reduce")
# Op-on-node cell graph: node 0 the cell's input (the previous two cells), nodes 1 and 2 the
# preprocessed states 0 (c_{k-2}) and 1 (c_{k-1}), nodes 3..10 the eight edge ops, node 11 the
# concatenating output. An intermediate state is the sum of its two op nodes, so an op node
# that consumes state s >= 2 has edges from both op nodes of s.
GRAPH_VOCABULARY: tuple[str, ...] = ("input", "state_k-2", "state_k-1", *DARTS_OPS, "output")
N_GRAPH_NODES = 3 + 2 * N_NODES + 1

Edge = tuple[str, int]
Cell = tuple[Edge, ...]
DartsArch = tuple[Cell, Cell]


def reduction_positions(layers: int) -> tuple[int, int]:
    """Indices of the two reduction cells in a ``layers``-cell CIFAR network (DARTS's rule)."""
    return layers // 3, 2 * layers // 3


def check_cell(cell: Sequence[Edge], where: str = "cell") -> Cell:
    """Validate one cell's 8 (op, input) pairs; ValueError naming the bad pair."""
    cell = tuple((str(op), int(src)) for op, src in cell)
    if len(cell) != 2 * N_NODES:
        raise ValueError(f"invalid DARTS {where}: expected {2 * N_NODES} (op, input) pairs, got {len(cell)}")
    for k, (op, src) in enumerate(cell):
        node = 2 + k // 2
        if op not in DARTS_OPS:
            raise ValueError(f"invalid DARTS {where}: unknown op {op!r} in pair {k}; choose from {', '.join(DARTS_OPS)}")
        if not 0 <= src < node:
            raise ValueError(f"invalid DARTS {where}: node {node} takes input {src}, which is not an earlier state "
                             f"(0..{node - 1})")
    for node in range(N_NODES):
        if cell[2 * node][1] == cell[2 * node + 1][1]:
            raise ValueError(f"invalid DARTS {where}: node {node + 2} takes state {cell[2 * node][1]} twice; "
                             "its two inputs must differ")
    return cell  # type: ignore[return-value]


def _canonical_cell(cell: Cell) -> Cell:
    """The least relabelling of the intermediate nodes that keeps every input earlier, with each
    node's two edges sorted: equal for cells that compute the same function up to those symmetries."""
    best: Cell | None = None
    for perm in itertools.permutations(range(N_NODES)):  # perm[old node] = new node
        relabel = {0: 0, 1: 1, **{2 + old: 2 + new for old, new in enumerate(perm)}}
        nodes: list[tuple[Edge, Edge] | None] = [None] * N_NODES
        valid = True
        for old in range(N_NODES):
            edges = tuple(sorted((op, relabel[src]) for op, src in cell[2 * old: 2 * old + 2]))
            if any(src >= relabel[2 + old] for _, src in edges):
                valid = False
                break
            nodes[perm[old]] = edges  # type: ignore[assignment]
        if valid:
            candidate = tuple(e for pair in nodes for e in pair)  # type: ignore[union-attr]
            if best is None or candidate < best:
                best = candidate
    assert best is not None  # the identity permutation is always valid
    return best


def _format_cell(cell: Cell) -> str:
    return "[" + ", ".join(f"('{op}', {src})" for op, src in cell) + "]"


def _cell_graph(cell: Cell) -> CellGraph:
    adjacency = np.zeros((N_GRAPH_NODES, N_GRAPH_NODES), dtype=np.uint8)
    adjacency[0, 1] = adjacency[0, 2] = 1
    ops = ["input", "state_k-2", "state_k-1"]
    for k, (op, src) in enumerate(cell):
        node = 3 + k
        ops.append(op)
        if src < 2:
            adjacency[1 + src, node] = 1
        else:  # state src = sum of its two op nodes
            first = 3 + 2 * (src - 2)
            adjacency[first, node] = adjacency[first + 1, node] = 1
        adjacency[node, N_GRAPH_NODES - 1] = 1  # every intermediate state is concatenated (concat 2..5)
    ops.append("output")
    return CellGraph(adjacency=adjacency, ops=tuple(ops), vocabulary=GRAPH_VOCABULARY)


class DartsSpace(SearchSpace):
    """DARTS's CIFAR space: sampling, one-edge mutations, DARTS genotype strings, isomorphism hash."""

    name = "darts"

    def __init__(self, layers: int = 8) -> None:
        if layers < 3:
            raise ValueError(f"a DARTS network needs at least 3 cells (two of them reductions), got layers={layers}")
        self.layers = int(layers)
        self.max_network_nodes = layers * (N_GRAPH_NODES - 1) + 1

    # -- sampling and mutation -------------------------------------------------------------
    @staticmethod
    def _sample_cell(rng: np.random.Generator) -> Cell:
        edges: list[Edge] = []
        for node in range(2, 2 + N_NODES):
            inputs = rng.choice(node, size=2, replace=False)
            edges += [(DARTS_OPS[int(rng.integers(len(DARTS_OPS)))], int(src)) for src in inputs]
        return tuple(edges)

    def sample(self, rng: np.random.Generator) -> DartsArch:
        return (self._sample_cell(rng), self._sample_cell(rng))

    @staticmethod
    def _cell_neighbours(cell: Cell) -> list[Cell]:
        out: list[Cell] = []
        for k, (op, src) in enumerate(cell):
            node = 2 + k // 2
            sibling = cell[k ^ 1][1]
            for new_op in DARTS_OPS:
                if new_op != op:
                    out.append(cell[:k] + ((new_op, src),) + cell[k + 1:])
            for new_src in range(node):
                if new_src not in (src, sibling):
                    out.append(cell[:k] + ((op, new_src),) + cell[k + 1:])
        return out

    def neighbours(self, arch: DartsArch) -> list[DartsArch]:
        """Every genotype one edge away: one op or one (still distinct) input changed, in either cell."""
        normal, reduce = arch
        return [(c, reduce) for c in self._cell_neighbours(normal)] + [(normal, c) for c in self._cell_neighbours(reduce)]

    def mutate(self, arch: DartsArch, rng: np.random.Generator) -> DartsArch:
        options = self.neighbours(arch)
        return options[int(rng.integers(len(options)))]

    # -- strings and hashing ---------------------------------------------------------------
    def to_string(self, arch: DartsArch) -> str:
        normal, reduce = arch
        concat = "[" + ", ".join(map(str, CONCAT)) + "]"
        return (f"Genotype(normal={_format_cell(normal)}, normal_concat={concat}, "
                f"reduce={_format_cell(reduce)}, reduce_concat={concat})")

    def from_string(self, text: str) -> DartsArch:
        """Parse a DARTS ``Genotype(...)`` string (concat given as a list or ``range(2, 6)``)."""
        if not isinstance(text, str):
            raise ValueError(f"DARTS genotype must be a string, got {type(text).__name__}")
        match = re.fullmatch(r"\s*Genotype\((.*)\)\s*", text, flags=re.S)
        if match is None:
            raise ValueError(f"invalid DARTS genotype {text[:80]!r}: expected Genotype(normal=[...], normal_concat=[2, 3, "
                             "4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])")
        fields: dict[str, object] = {}
        try:
            call = ast.parse(f"f({match[1]})", mode="eval").body
            for keyword in call.keywords:  # type: ignore[attr-defined]
                value = keyword.value
                if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "range":
                    fields[keyword.arg] = list(range(*[ast.literal_eval(a) for a in value.args]))
                else:
                    fields[keyword.arg] = ast.literal_eval(value)
        except (SyntaxError, ValueError) as exc:
            raise ValueError(f"invalid DARTS genotype {text[:80]!r}: cannot parse ({exc})") from None
        missing = {"normal", "reduce"} - set(fields)
        if missing:
            raise ValueError(f"invalid DARTS genotype {text[:80]!r}: missing {', '.join(sorted(missing))}")
        for cell in CELL_TYPES:
            concat = fields.get(f"{cell}_concat", list(CONCAT))
            if list(concat) != list(CONCAT):  # type: ignore[arg-type]
                raise ValueError(f"invalid DARTS genotype: {cell}_concat must be [2, 3, 4, 5], got {concat}")
        try:
            return (check_cell(fields["normal"], "normal cell"),  # type: ignore[arg-type]
                    check_cell(fields["reduce"], "reduction cell"))  # type: ignore[arg-type]
        except TypeError as exc:
            raise ValueError(f"invalid DARTS genotype {text[:80]!r}: cells must be lists of (op, input) pairs") from exc

    def canonicalize(self, arch: DartsArch) -> DartsArch:
        return (_canonical_cell(arch[0]), _canonical_cell(arch[1]))

    def iso_hash(self, arch: DartsArch) -> str:
        """Invariant to the order of a node's two inputs and to relabelling interchangeable nodes."""
        return hashlib.sha256(self.to_string(self.canonicalize(arch)).encode("ascii")).hexdigest()[:16]

    # -- graphs ----------------------------------------------------------------------------
    def skeleton(self) -> tuple[str, ...]:
        reductions = reduction_positions(self.layers)
        return tuple("reduce" if k in reductions else "normal" for k in range(self.layers))

    def to_graph(self, arch: DartsArch) -> ArchGraph:
        normal, reduce = arch
        return ArchGraph(cells={"normal": _cell_graph(normal), "reduce": _cell_graph(reduce)}, skeleton=self.skeleton())
