"""The search-space interface every space implements, and the graph form distances consume.

An *architecture* is an immutable, hashable value owned by its space (callers treat it as
opaque and go through the space for strings, graphs, mutation and hashing). A *network* is a
macro skeleton of cells: NB201 repeats one cell, DARTS has a normal and a reduction cell, so
:meth:`SearchSpace.to_graph` returns one :class:`CellGraph` per cell type.
"""

from __future__ import annotations

import abc
import functools
from dataclasses import dataclass
from typing import Callable, Hashable, Iterator, Sequence

import numpy as np

Arch = Hashable


def memoized_strings(to_string: Callable) -> Callable:
    """Decorate a space's ``to_string`` with a table of the strings it made (tuples only): a
    search asks for the same few thousand architectures' strings ~10⁵ times a run (query-rule
    keys, matrix rows), and formatting each anew was a tenth of a TNB101 NASBOT run."""
    table: dict = {}

    @functools.wraps(to_string)
    def cached(self, arch):
        try:
            return table[arch]
        except KeyError:
            text = table[arch] = to_string(self, arch)
            if len(table) > 1 << 17:  # bounded (~30 MB): more than any tabular space has; rebuilt as asked
                table.clear()
            return text
        except TypeError:  # unhashable (a list): formatted each time
            return to_string(self, arch)

    return cached


@dataclass(frozen=True)
class CellGraph:
    """An op-on-node DAG: ``adjacency[i, j] = 1`` for an edge i -> j, ``ops[i]`` labels node i.

    Nodes are topologically ordered: node 0 is the input, the last node the output.
    """

    adjacency: np.ndarray
    ops: tuple[str, ...]
    vocabulary: tuple[str, ...]

    def one_hot(self) -> np.ndarray:
        """Node-by-vocabulary one-hot matrix of the ops (as arch2vec and GATES consume)."""
        index = {op: k for k, op in enumerate(self.vocabulary)}
        encoded = np.zeros((len(self.ops), len(self.vocabulary)), dtype=np.float32)
        encoded[np.arange(len(self.ops)), [index[op] for op in self.ops]] = 1.0
        return encoded


@dataclass(frozen=True)
class ArchGraph:
    """A network as its cell graphs plus the macro skeleton (sequence of cell names)."""

    cells: dict[str, CellGraph]
    skeleton: tuple[str, ...]


class SearchSpace(abc.ABC):
    """Sampling, mutation, neighbourhoods, hashing and (de)serialisation of architectures."""

    name: str

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> Arch:
        """One architecture drawn uniformly at random."""

    @abc.abstractmethod
    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """A random neighbour: the smallest change the space allows (e.g. one edge op)."""

    @abc.abstractmethod
    def neighbours(self, arch: Arch) -> list[Arch]:
        """Every architecture one mutation away, in a fixed order."""

    @abc.abstractmethod
    def to_string(self, arch: Arch) -> str:
        """The space's canonical text form (what result files store)."""

    @abc.abstractmethod
    def from_string(self, text: str) -> Arch:
        """Parse :meth:`to_string`'s form; raises ValueError naming the bad token."""

    @abc.abstractmethod
    def iso_hash(self, arch: Arch) -> str:
        """A hash shared by architectures that compute the same function (isomorphism-invariant)."""

    @abc.abstractmethod
    def to_graph(self, arch: Arch) -> ArchGraph:
        """The op-on-node DAG form(s) that distances and encoders consume."""

    def from_cell_graph(self, adjacency: np.ndarray, ops: Sequence[str]) -> Arch:
        """The architecture whose single cell graph is (``adjacency``, ``ops``); ValueError if none
        is (decoders use this to check validity of generated graphs)."""
        raise NotImplementedError(f"{self.name} cannot be built from a cell graph")

    def canonicalize(self, arch: Arch) -> Arch:
        """A fixed representative of the architectures whose graphs are isomorphic once dead
        parts (ops that cannot reach the output or be reached from the input) are removed.

        Distances are computed on representatives, so such architectures get equal distances
        and a pool's cells are solved once per representative. Default: ``arch`` itself.
        """
        return arch

    def edge_op_matrix(self, arch: Arch) -> np.ndarray | None:
        """The op-on-edge form of a single-cell space whose ops sit on edges: ``M[to, from]`` the
        index of the edge's op in :attr:`operations` (0, the no-edge op ``none``, where there is no
        edge), as GATES encodes such spaces; None where ops sit on nodes."""
        return None

    #: What this space offers beyond the core interface. Methods and metrics that need one of
    #: these declare it, and config validation rejects them on spaces without it:
    #: ``single_cell`` (one cell graph per network: tree/path encodings, encoders),
    #: ``edge_operations`` (one op per edge: ANASOD), ``path_encoding`` (BANANAS).
    capabilities: frozenset[str] = frozenset()
    #: Node count of the largest :meth:`network_graph` when networks differ in size (for padding).
    max_network_nodes: int | None = None

    def network_graph(self, arch: Arch) -> CellGraph:
        """The whole network as one op-on-node DAG: the skeleton's cells chained, each cell's output
        node merged with the next cell's input. A merged node is labelled ``skip_connect`` (the
        sum flowing on unchanged); a single-cell skeleton gives that cell itself."""
        graph = self.to_graph(arch)
        if len(graph.skeleton) == 1:
            return graph.cells[graph.skeleton[0]]
        cells = [graph.cells[name] for name in graph.skeleton]
        total = sum(len(c.ops) for c in cells) - (len(cells) - 1)
        adjacency = np.zeros((total, total), dtype=np.uint8)
        ops: list[str] = list(cells[0].ops)
        offset = 0
        for k, cell in enumerate(cells):
            n = len(cell.ops)
            adjacency[offset:offset + n, offset:offset + n] |= cell.adjacency.astype(np.uint8)
            if k > 0:
                ops[-1] = "skip_connect"  # this cell's input = the previous cell's output
                ops += list(cell.ops[1:])
            offset += n - 1
        vocabulary = tuple(dict.fromkeys([op for c in cells for op in c.vocabulary] + ["skip_connect"]))
        return CellGraph(adjacency=adjacency, ops=tuple(ops), vocabulary=vocabulary)

    # Cell spaces with one op per edge (NB201, TransNAS micro) implement these (ANASOD, BANANAS).
    @property
    def operations(self) -> tuple[str, ...]:
        """The ops an edge can take, in a fixed order."""
        raise NotImplementedError(f"space {self.name!r} has no per-edge operations")

    def operation_counts(self, arch: Arch) -> np.ndarray:
        """How many edges carry each op of :attr:`operations` (ANASOD's encoding, unnormalized)."""
        raise NotImplementedError(f"space {self.name!r} has no per-edge operations")

    def sample_with_operation_counts(self, counts: np.ndarray, rng: np.random.Generator) -> Arch:
        """A uniformly random architecture with exactly these op counts (ANASOD's decoder)."""
        raise NotImplementedError(f"space {self.name!r} has no per-edge operations")

    @property
    def max_path_ops(self) -> int:
        """Most ops on one input->output path (the length of BANANAS path encodings)."""
        raise NotImplementedError(f"space {self.name!r} has no path encoding")

    #: Fewest ops on an input->output path: 1 where ops sit on edges (NB201), 0 where a cell may wire
    #: its input straight to its output (NB101), which BANANAS encodes as a path of its own.
    min_path_ops: int = 1

    # Enumerable spaces (NB201, TransNAS micro) also implement these three.
    @property
    def size(self) -> int | None:
        """Number of architectures if the space is finite and enumerable, else None."""
        return None

    def to_index(self, arch: Arch) -> int:
        raise NotImplementedError(f"space {self.name!r} has no index")

    def from_index(self, index: int) -> Arch:
        raise NotImplementedError(f"space {self.name!r} has no index")

    def enumerate(self) -> Iterator[Arch]:
        """All architectures in index order (finite spaces only)."""
        if self.size is None:
            raise NotImplementedError(f"space {self.name!r} is not enumerable")
        return (self.from_index(i) for i in range(self.size))

    def sample_unique(self, n: int, rng: np.random.Generator, *, by: str | Callable[[Arch], Hashable] = "arch",
                      seen: set[Hashable] | None = None) -> list[Arch]:
        """``n`` new architectures drawn uniformly, distinct by ``arch``, by ``iso_hash`` or by the
        key a callable ``by`` gives (a search's query rule).

        ``seen`` holds the keys already taken (it is updated in place, so repeated calls keep
        sampling without replacement). Raises ValueError if the space runs out.
        """
        if callable(by):
            key_of = by
        elif by in ("arch", "iso"):
            key_of = (lambda arch: arch) if by == "arch" else self.iso_hash
        else:
            raise ValueError(f"by must be 'arch', 'iso' or a key function, not {by!r}")
        seen = set() if seen is None else seen
        out: list[Arch] = []
        misses = 0
        while len(out) < n:
            arch = self.sample(rng)
            key = key_of(arch)
            if key in seen:
                misses += 1
                if misses > 1000 * (n + 10):
                    raise ValueError(f"space {self.name!r} has fewer than {n} new distinct architectures left")
                continue
            seen.add(key)
            out.append(arch)
        return out
