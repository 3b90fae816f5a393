"""NAS-Bench-201 cell space (Dong & Yang, ICLR 2020): 4 nodes, 6 edges, 5 ops, 15,625 cells.

Cell string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: group i lists the edges into node i+1,
token ``op~j`` the op on edge j -> i+1. An architecture is the tuple of the six edge ops in
string order: (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from typing import Iterator, Sequence

import numpy as np

from nasstages.spaces.base import ArchGraph, CellGraph, SearchSpace, memoized_strings

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from)
N_NODES = 4
GRAPH_VOCABULARY: tuple[str, ...] = ("input", *OPS, "output")
CELL = "cell"
NB201Arch = tuple[str, str, str, str, str, str]

_OP_CODE = {op: k for k, op in enumerate(OPS)}


def _code(arch: NB201Arch) -> int:
    """Base-5 code of a cell (first edge most significant): our canonical enumeration."""
    code = 0
    for op in arch:
        code = code * len(OPS) + _OP_CODE[op]
    return code


def _decode(code: int) -> NB201Arch:
    ops = []
    for _ in EDGES:
        code, digit = divmod(code, len(OPS))
        ops.append(OPS[digit])
    return tuple(reversed(ops))  # type: ignore[return-value]


@lru_cache(maxsize=1)
def _official_order() -> tuple[np.ndarray, np.ndarray]:
    """(code of each official index, official index of each code), from the shipped table.

    The table is the official NAS-Bench-201 v1_1 / NATS-tss ``arch_index`` order, extracted
    from the benchmark mirror (``tests/test_nb201_space.py`` re-checks it against the mirror).
    """
    path = resources.files("nasstages.spaces") / "data" / "nb201_official_order.npy"
    with resources.as_file(path) as file:
        code_of_index = np.load(file)
    index_of_code = np.empty_like(code_of_index)
    index_of_code[code_of_index] = np.arange(len(code_of_index), dtype=code_of_index.dtype)
    return code_of_index, index_of_code


def parse_cell(text: str) -> NB201Arch:
    """Parse an NB201 cell string; raises ValueError naming the offending token."""
    if not isinstance(text, str):
        raise ValueError(f"NB201 cell must be a string, got {type(text).__name__}")
    groups = text.split("+")
    if len(groups) != N_NODES - 1:
        raise ValueError(
            f"invalid NB201 cell {text!r}: expected {N_NODES - 1} node groups joined by '+', "
            f"found {len(groups)}; format |op~0|+|op~0|op~1|+|op~0|op~1|op~2|"
        )
    ops: list[str] = []
    for node, group in enumerate(groups, start=1):
        if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
            raise ValueError(f"invalid NB201 cell {text!r}: node group {group!r} must be wrapped in '|'")
        tokens = group[1:-1].split("|")
        if len(tokens) != node:
            raise ValueError(
                f"invalid NB201 cell {text!r}: node {node} needs {node} edges, group {group!r} has {len(tokens)}"
            )
        for source, token in enumerate(tokens):
            op, sep, src = token.partition("~")
            if not sep:
                raise ValueError(f"invalid NB201 cell {text!r}: token {token!r} is not of the form op~j")
            if op not in _OP_CODE:
                raise ValueError(
                    f"invalid NB201 cell {text!r}: unknown op {op!r} in token {token!r}; ops are {', '.join(OPS)}"
                )
            if src != str(source):
                raise ValueError(
                    f"invalid NB201 cell {text!r}: token {token!r} should read from node {source}, not {src!r}"
                )
            ops.append(op)
    return tuple(ops)  # type: ignore[return-value]


@lru_cache(maxsize=1 << 16)  # a pure function of a 6-tuple; BO runs format the same cells all the time
def format_cell(arch: NB201Arch) -> str:
    """The NB201 cell string of an architecture tuple."""
    out, k = [], 0
    for node in range(1, N_NODES):
        tokens = []
        for source in range(node):
            tokens.append(f"{arch[k]}~{source}")
            k += 1
        out.append("|" + "|".join(tokens) + "|")
    return "+".join(out)


def canonical_form(arch: NB201Arch) -> str:
    """The function the cell computes, as a canonical expression over the input ``x``.

    Each node is the multiset (sum) of op(input) terms. ``none`` contributes nothing, ops
    applied to a zero node are zero (so edges cut off by ``none`` vanish), ``skip_connect``
    is the identity (its input's terms are spliced in), and terms are sorted, so permuting
    equivalent intermediate nodes gives the same form. A cell with no path from input to
    output has the form ``0``.
    """
    node_terms: list[tuple[str, ...]] = [("x",)]
    for node in range(1, N_NODES):
        terms: list[str] = []
        for (to, source), op in zip(EDGES, arch):
            if to != node or op == "none" or not node_terms[source]:
                continue
            if op == "skip_connect":
                terms.extend(node_terms[source])
            else:
                terms.append(f"{op}({'+'.join(node_terms[source])})")
        node_terms.append(tuple(sorted(terms)))
    return "+".join(node_terms[-1]) or "0"


@lru_cache(maxsize=1 << 16)  # pure, and on every distance and query-rule call of a BO run
def prune_dead_edges(arch: NB201Arch) -> NB201Arch:
    """Set to ``none`` every edge that no input->output path uses (its op cannot matter)."""
    ops = list(arch)
    while True:
        fed = {0}
        for node in range(1, N_NODES):
            if any(to == node and op != "none" and src in fed for (to, src), op in zip(EDGES, ops)):
                fed.add(node)
        feeds = {N_NODES - 1}
        for node in range(N_NODES - 2, -1, -1):
            if any(src == node and op != "none" and to in feeds for (to, src), op in zip(EDGES, ops)):
                feeds.add(node)
        pruned = [op if (src in fed and to in feeds) else "none" for (to, src), op in zip(EDGES, ops)]
        if pruned == ops:
            return tuple(ops)  # type: ignore[return-value]
        ops = pruned


class NB201Space(SearchSpace):
    """The NAS-Bench-201 topology space; indices follow the official ``arch_index``."""

    name = "nb201"
    OPS: tuple[str, ...] = OPS  # subclasses with the same 4-node, 6-edge cell change the op set
    capabilities = frozenset({"single_cell", "edge_operations", "path_encoding"})

    @property
    def size(self) -> int:
        return len(self.OPS) ** len(EDGES)

    @property
    def operations(self) -> tuple[str, ...]:
        return self.OPS

    @property
    def max_path_ops(self) -> int:
        return N_NODES - 1  # the path 0 -> 1 -> 2 -> 3

    def operation_counts(self, arch: NB201Arch) -> np.ndarray:
        return np.array([arch.count(op) for op in self.OPS], dtype=np.int64)

    def sample_with_operation_counts(self, counts: np.ndarray, rng: np.random.Generator) -> NB201Arch:
        counts = np.asarray(counts, dtype=np.int64)
        if counts.shape != (len(self.OPS),) or counts.min() < 0 or counts.sum() != len(EDGES):
            raise ValueError(f"NB201 op counts must be {len(self.OPS)} non-negative integers summing to {len(EDGES)}")
        ops = np.repeat(np.arange(len(self.OPS)), counts)
        return tuple(self.OPS[k] for k in rng.permutation(ops))  # type: ignore[return-value]

    def sample(self, rng: np.random.Generator) -> NB201Arch:
        return tuple(self.OPS[k] for k in rng.integers(0, len(self.OPS), size=len(EDGES)))  # type: ignore[return-value]

    def mutate(self, arch: NB201Arch, rng: np.random.Generator) -> NB201Arch:
        edge = int(rng.integers(len(EDGES)))
        try:
            choices = self._other_ops()[arch[edge]]
        except KeyError:
            raise ValueError(f"{arch[edge]!r} is not a {self.name} op ({', '.join(self.OPS)})") from None
        new = list(arch)
        new[edge] = choices[int(rng.integers(len(choices)))]
        return tuple(new)  # type: ignore[return-value]

    def _other_ops(self) -> dict[str, tuple[str, ...]]:
        """op -> every other op in ``OPS`` order (NASBOT's evolution mutates ~10⁵ times a run)."""
        table = type(self).__dict__.get("_OTHER_OPS")
        if table is None:
            table = {op: tuple(o for o in self.OPS if o != op) for op in self.OPS}
            type(self)._OTHER_OPS = table
        return table

    def neighbours(self, arch: NB201Arch) -> list[NB201Arch]:
        out = []
        for edge in range(len(EDGES)):
            for op in self.OPS:
                if op != arch[edge]:
                    new = list(arch)
                    new[edge] = op
                    out.append(tuple(new))
        return out  # type: ignore[return-value]

    @memoized_strings
    def to_string(self, arch: NB201Arch) -> str:
        return format_cell(arch)

    def from_string(self, text: str) -> NB201Arch:
        return parse_cell(text)

    def iso_hash(self, arch: NB201Arch) -> str:
        return hashlib.sha256(canonical_form(arch).encode("ascii")).hexdigest()[:16]

    def from_cell_graph(self, adjacency: np.ndarray, ops: Sequence[str]) -> NB201Arch:
        ops = tuple(ops)
        if len(ops) != len(EDGES) + 2 or ops[0] != "input" or ops[-1] != "output":
            raise ValueError(f"an NB201 cell graph has 8 nodes from 'input' to 'output', got {ops}")
        if any(op not in self.OPS for op in ops[1:-1]):
            raise ValueError(f"NB201 edge ops must be among {self.OPS}, got {ops[1:-1]}")
        arch: NB201Arch = ops[1:-1]  # type: ignore[assignment]
        if not np.array_equal(np.asarray(adjacency) != 0, self.to_graph(arch).cells[CELL].adjacency != 0):
            raise ValueError("adjacency is not the NB201 cell skeleton")
        return arch

    def canonicalize(self, arch: NB201Arch) -> NB201Arch:
        """Dead edges set to ``none``; with 2<-1 = none, nodes 1 and 2 are interchangeable and
        the lexicographically smaller of the two orders is kept."""
        arch = prune_dead_edges(arch)
        if arch[2] == "none":
            swapped = (arch[1], arch[0], "none", arch[3], arch[5], arch[4])
            arch = min(arch, swapped)
        return arch

    def to_index(self, arch: NB201Arch) -> int:
        return int(_official_order()[1][_code(arch)])

    def from_index(self, index: int) -> NB201Arch:
        if not 0 <= int(index) < self.size:
            raise ValueError(f"NB201 index {index} out of range 0..{self.size - 1}")
        return _decode(int(_official_order()[0][int(index)]))

    def enumerate(self) -> Iterator[NB201Arch]:
        code_of_index = _official_order()[0]
        return (_decode(int(code)) for code in code_of_index)

    def edge_op_matrix(self, arch: NB201Arch) -> np.ndarray:
        """4×4 ``M[to, from]`` = index in ``OPS`` of the op on edge from -> to (``none``, index 0, as no
        edge): the cell as aw_nas's NB201 GATES reads it (``genotype[to][from]``)."""
        matrix = np.zeros((N_NODES, N_NODES), dtype=np.int64)
        code = self._op_code()
        for (to, source), op in zip(EDGES, arch):
            matrix[to, source] = code[op]
        return matrix

    def _op_code(self) -> dict[str, int]:
        table = type(self).__dict__.get("_OP_INDEX")
        if table is None:
            if self.OPS[0] != "none":  # index 0 means "no edge" to the edge-flow encoders
                raise ValueError(f"{self.name}: the edge form needs 'none' as op 0, not {self.OPS[0]!r}")
            table = {op: k for k, op in enumerate(self.OPS)}
            type(self)._OP_INDEX = table
        return table

    def to_graph(self, arch: NB201Arch) -> ArchGraph:
        """8-node op-on-node DAG: input, the six edge ops (string order), output (as arch2vec)."""
        n = len(EDGES) + 2
        adjacency = np.zeros((n, n), dtype=np.uint8)
        op_node = {edge: k + 1 for k, edge in enumerate(EDGES)}
        for (to, source), k in op_node.items():
            if source == 0:
                adjacency[0, k] = 1
            else:
                for (to2, source2), k2 in op_node.items():
                    if to2 == source:
                        adjacency[k2, k] = 1
        for (to, _source), k in op_node.items():
            if to == N_NODES - 1:
                adjacency[k, n - 1] = 1
        ops = ("input", *arch, "output")
        cell = CellGraph(adjacency=adjacency, ops=ops, vocabulary=("input", *self.OPS, "output"))
        return ArchGraph(cells={CELL: cell}, skeleton=(CELL,))
