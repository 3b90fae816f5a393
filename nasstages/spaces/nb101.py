"""NAS-Bench-101 cell space (Ying et al., ICML 2019): DAGs of at most 7 vertices and 9 edges,
input first, output last, each vertex between them one of three ops; 423,624 unique cells.

Everything follows google-research/nasbench exactly:

- ``nasbench/lib/config.py``: ``module_vertices`` 7, ``max_edges`` 9, ``available_ops``
  ``['conv3x3-bn-relu', 'conv1x1-bn-relu', 'maxpool3x3']`` (this order sets the hash labels);
- ``nasbench/lib/model_spec.py``: ``ModelSpec.__init__`` (square, ops as long as the matrix,
  ``is_upper_triangular``), ``ModelSpec._prune`` (:func:`prune`: keep the vertices reachable from
  the input that also reach the output; fewer than 2 left means the output is unreachable,
  ``valid_spec = False``) and ``ModelSpec.hash_spec`` (labels ``[-1] + [available_ops.index(op)
  ...] + [-2]`` of the *pruned* spec);
- ``nasbench/lib/graph_util.py``: ``hash_module`` (:func:`official_hash`: the md5 rounds, byte for
  byte; ``tests/test_nb101_space.py`` checks it against a literal transcription and against
  module hashes published with their cells), ``permute_graph`` / ``is_isomorphic`` (the relabelings
  :meth:`NB101Space.canonicalize` ranges over), ``num_edges``;
- ``nasbench/api.py``: ``NASBench.is_valid`` / ``_check_spec`` (:func:`is_valid`: every limit is
  checked on the *pruned* spec, so a 7-vertex matrix with 10 edges is in the space when pruning
  leaves at most 9);
- ``NASBench.ipynb`` (the repository's example colab): ``random_spec`` (:meth:`NB101Space.sample`:
  a 7×7 matrix of fair 0/1 draws, ``np.triu(k=1)``, 7 op draws of which the first and last are
  overwritten by input/output, rejection until valid; the same draws, in the same order, from the
  numpy Generator given) and ``mutate_spec(mutation_rate=1.0)`` (:func:`mutate_spec`). The
  Generator ports of both in google-research/unified_functional_hashing
  (``nasbench/python/random_spec_generator.py``, ``mutator.py``) draw exactly as these do.

An architecture (:class:`NB101Arch`) is the spec *as given* — the original, possibly unpruned,
matrix and ops, as ``mutate_spec`` mutates ``original_matrix``/``original_ops`` — while its hash,
graph form and canonical form are those of the pruned spec. Arch values are a little stricter than
``api.is_valid``: at most 7 vertices and an available op on every intermediate vertex, pruned or
not (``random_spec`` and ``mutate_spec`` never make anything else); and every function here wants
0/1 matrix entries (nasbench does not check them).

String form ``<ops comma-separated>|<matrix rows as 0/1 strings comma-separated>``, e.g.
``input,conv3x3-bn-relu,output|010,001,000``.

Mutation: :func:`mutate_spec` is nasbench's, which returns the parent itself when no edge flips
and no op is resampled (~1.5% of calls from a 7-vertex spec); :meth:`NB101Space.mutate` redraws
such an attempt like an invalid one (the space contract of ``tests/test_contracts.py``: a mutation
changes the spec), i.e. it is ``mutate_spec`` conditioned on a change, with the same draws. Both
mutate a spec on its own vertex count, so a spec of n < 7 vertices (one parsed from a pruned
string, or a canonical form) keeps n vertices. ``neighbours`` lists only other isomorphism classes.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import NamedTuple, Sequence

import numpy as np

from nasstages.spaces.base import ArchGraph, CellGraph, SearchSpace, memoized_strings

INPUT = "input"
OUTPUT = "output"
CONV3X3 = "conv3x3-bn-relu"
CONV1X1 = "conv1x1-bn-relu"
MAXPOOL3X3 = "maxpool3x3"
AVAILABLE_OPS: tuple[str, ...] = (CONV3X3, CONV1X1, MAXPOOL3X3)  # config['available_ops'], in order
NUM_VERTICES = 7  # config['module_vertices']
MAX_EDGES = 9  # config['max_edges']
OP_SPOTS = NUM_VERTICES - 2
GRAPH_VOCABULARY: tuple[str, ...] = (INPUT, *AVAILABLE_OPS, OUTPUT)
CELL = "cell"
STRING_FORM = "'<ops comma-separated>|<matrix rows comma-separated>', e.g. 'input,conv3x3-bn-relu,output|010,001,000'"
#: Op labels of padding vertices (see :meth:`NB101Space.from_cell_graph`).
PADDING_OPS = frozenset({"none", "", None})

_OP_CODE = {op: k for k, op in enumerate(AVAILABLE_OPS)}
_OTHER_OPS = {op: tuple(o for o in AVAILABLE_OPS if o != op) for op in AVAILABLE_OPS}
_STRING_OPS = (INPUT, OUTPUT, *AVAILABLE_OPS)
_PADDING_INSIDE = PADDING_OPS | {INPUT, OUTPUT}

Matrix = tuple[tuple[int, ...], ...]


class NB101Arch(NamedTuple):
    """A cell spec as given: ``matrix[i][j] = 1`` for an edge i -> j (0/1, upper triangular),
    ``ops[i]`` the op of vertex i (``input`` first, ``output`` last)."""

    matrix: Matrix
    ops: tuple[str, ...]

    def adjacency(self) -> np.ndarray:
        """The matrix as a (n, n) uint8 array."""
        return np.array(self.matrix, dtype=np.uint8).reshape(len(self.ops), len(self.ops))


# --- nasbench's rules on plain Python tuples (fast; the public functions below wrap them) ---

def _as_rows(matrix) -> Matrix:
    """Tuple-of-int-rows form of a square array-like; ValueError if not square or not 0/1."""
    array = np.asarray(matrix)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise ValueError(f"matrix must be square, got shape {array.shape}")
    if array.size and not np.isin(array, (0, 1)).all():
        raise ValueError("matrix entries must be 0 or 1")
    return tuple(tuple(int(x) for x in row) for row in array.tolist())


def _upper_triangular(matrix: Matrix) -> bool:
    """model_spec.is_upper_triangular: 0 on the diagonal and below."""
    return all(not matrix[i][j] for i in range(len(matrix)) for j in range(i + 1))


def _prune_rows(matrix: Matrix, ops: tuple) -> tuple[Matrix, tuple] | None:
    """model_spec.ModelSpec._prune on tuples; None where nasbench sets valid_spec False."""
    n = len(ops)
    visited_from_input = {0}
    frontier = [0]
    while frontier:
        top = frontier.pop()
        for v in range(top + 1, n):
            if matrix[top][v] and v not in visited_from_input:
                visited_from_input.add(v)
                frontier.append(v)
    visited_from_output = {n - 1}
    frontier = [n - 1]
    while frontier:
        top = frontier.pop()
        for v in range(0, top):
            if matrix[v][top] and v not in visited_from_output:
                visited_from_output.add(v)
                frontier.append(v)
    keep = sorted(visited_from_input & visited_from_output)
    if n - len(keep) > n - 2:  # nasbench: len(extraneous) > num_vertices - 2
        return None
    if len(keep) == n:
        return matrix, tuple(ops)
    return tuple(tuple(matrix[i][j] for j in keep) for i in keep), tuple(ops[i] for i in keep)


def _check_reason(matrix: Matrix, ops: tuple) -> str | None:
    """Why api.NASBench._check_spec rejects the spec (ModelSpec.__init__'s errors included), or
    None when it is in the space. Messages are nasbench's."""
    n = len(matrix)
    if any(len(row) != n for row in matrix):
        return "matrix must be square"
    if n != len(ops):
        return "length of ops must match matrix dimensions"
    if not _upper_triangular(matrix):
        return "matrix must be upper triangular"
    pruned = _prune_rows(matrix, tuple(ops))
    if pruned is None:
        return "invalid spec, provided graph is disconnected."
    pmatrix, pops = pruned
    if len(pops) > NUM_VERTICES:
        return f"too many vertices, got {len(pops)} (max vertices = {NUM_VERTICES})"
    edges = sum(map(sum, pmatrix))
    if edges > MAX_EDGES:
        return f"too many edges, got {edges} (max edges = {MAX_EDGES})"
    return _ops_reason(pops)


def _ops_reason(ops: tuple) -> str | None:
    """Why an op list is not input, available ops, output (nasbench's messages), or None."""
    if len(ops) < 2 or ops[0] != INPUT:
        return "first operation should be 'input'"
    if ops[-1] != OUTPUT:
        return "last operation should be 'output'"
    for op in ops[1:-1]:
        if op not in _OP_CODE:
            return f"unsupported op {op!r} (available ops = {list(AVAILABLE_OPS)})"
    return None


def hash_module(matrix: Matrix, labeling: Sequence[int]) -> str:
    """nasbench's graph_util.hash_module on tuples, string for string: an isomorphism-invariant fingerprint
    of a labelled DAG (matrix rows as tuples, one label per vertex)."""
    vertices = len(matrix)
    in_edges = [sum(matrix[w][v] for w in range(vertices)) for v in range(vertices)]
    out_edges = [sum(row) for row in matrix]
    preds = [[w for w in range(vertices) if matrix[w][v]] for v in range(vertices)]
    succs = [[w for w in range(vertices) if matrix[v][w]] for v in range(vertices)]
    md5 = hashlib.md5
    hashes = [md5(str(h).encode("utf-8")).hexdigest() for h in zip(out_edges, in_edges, labeling)]
    for _ in range(vertices):
        hashes = [md5(("".join(sorted([hashes[w] for w in preds[v]])) + "|"
                       + "".join(sorted([hashes[w] for w in succs[v]])) + "|"
                       + hashes[v]).encode("utf-8")).hexdigest()
                  for v in range(vertices)]
    return md5(str(sorted(hashes)).encode("utf-8")).hexdigest()


@lru_cache(maxsize=1 << 16)  # bounded: at most ~1 kB an entry
def _official_hash_rows(matrix: Matrix, ops: tuple) -> str:
    pruned = _prune_rows(matrix, ops)
    if pruned is None:
        raise ValueError("the input does not reach the output (nasbench's valid_spec is False): no module hash")
    pmatrix, pops = pruned
    try:
        labeling = [-1] + [AVAILABLE_OPS.index(op) for op in pops[1:-1]] + [-2]
    except ValueError:
        raise ValueError(f"ops {list(pops[1:-1])} are not all among {list(AVAILABLE_OPS)}") from None
    return hash_module(pmatrix, labeling)


# --- public, array-friendly forms ---

def prune(matrix, ops: Sequence[str]) -> tuple[np.ndarray, list[str]] | None:
    """The spec with every vertex not on an input->output path removed (model_spec._prune), or None
    when the output is unreachable; nasbench hashes and checks the pruned spec, not the given one."""
    rows = _as_rows(matrix)
    reason = None if len(rows) == len(ops) else "length of ops must match matrix dimensions"
    if reason is None and not _upper_triangular(rows):
        reason = "matrix must be upper triangular"
    if reason:
        raise ValueError(reason)
    pruned = _prune_rows(rows, tuple(ops))
    if pruned is None:
        return None
    pmatrix, pops = pruned
    return np.array(pmatrix, dtype=np.int8).reshape(len(pops), len(pops)), list(pops)


def official_hash(matrix, ops: Sequence[str]) -> str:
    """NAS-Bench-101's module hash of the pruned spec (ModelSpec.hash_spec via graph_util.hash_module):
    the key of the official file, equal for isomorphic cells."""
    rows = _as_rows(matrix)
    if len(rows) != len(ops):
        raise ValueError("length of ops must match matrix dimensions")
    if not _upper_triangular(rows):
        raise ValueError("matrix must be upper triangular")
    return _official_hash_rows(rows, tuple(ops))


def is_valid(matrix, ops: Sequence[str]) -> bool:
    """Whether api.NASBench.is_valid accepts the spec (limits checked after pruning): whether the
    official file has it."""
    try:
        rows = _as_rows(matrix)
    except ValueError:
        return False
    return _check_reason(rows, tuple(ops)) is None


def arch_reason(matrix: Matrix, ops: tuple) -> str | None:
    """Why (matrix, ops) is not an :class:`NB101Arch` (nasbench's reason, or ours: more than 7
    vertices, or an intermediate op that is not available), None if it is one."""
    n = len(ops)
    if n > NUM_VERTICES:
        return f"too many vertices, got {n} (max vertices = {NUM_VERTICES})"
    return _ops_reason(ops) or _check_reason(matrix, ops)


def make_arch(matrix, ops: Sequence[str]) -> NB101Arch:
    """The :class:`NB101Arch` of a spec; ValueError with the reason if it is not one."""
    rows = _as_rows(matrix)
    ops = tuple(ops)
    reason = arch_reason(rows, ops)
    if reason is not None:
        raise ValueError(f"not a NAS-Bench-101 cell: {reason}")
    return NB101Arch(rows, ops)


@lru_cache(maxsize=1 << 16)  # bounded: at most ~1 kB an entry
def _canonical(matrix: Matrix, ops: tuple) -> NB101Arch:
    """The smallest (op codes, matrix bits row-major) encoding over the topological orders of a
    pruned spec, i.e. over the relabelings (graph_util.permute_graph) that keep it upper triangular.

    Isomorphic DAGs have the same set of such relabelings, so the minimum is an exact invariant.
    Orders are grown vertex by vertex keeping only prefixes with the smallest op sequence (any
    vertex whose predecessors are placed can come next), then the matrix bits decide.
    """
    n = len(ops)
    if n <= 3:
        return NB101Arch(matrix, ops)
    code = [_OP_CODE.get(op, -1) for op in ops]
    preds = [sum(1 << u for u in range(n) if matrix[u][v]) for v in range(n)]
    states: list[tuple[int, tuple[int, ...]]] = [(1, (0,))]
    for _ in range(n - 2):
        best, grown = None, []
        for placed, order in states:
            for v in range(1, n - 1):
                if placed >> v & 1 or preds[v] & ~placed:
                    continue
                if best is None or code[v] < best:
                    best, grown = code[v], [(placed | 1 << v, order + (v,))]
                elif code[v] == best:
                    grown.append((placed | 1 << v, order + (v,)))
        states = grown
    best_key, best_order = None, None
    for _, order in states:
        order = order + (n - 1,)
        key = 0
        for i in range(n - 1):
            row = matrix[order[i]]
            for j in range(i + 1, n):
                key = key << 1 | row[order[j]]
        if best_key is None or key < best_key:
            best_key, best_order = key, order
    canonical = tuple(tuple(matrix[u][v] for v in best_order) for u in best_order)
    return NB101Arch(canonical, tuple(ops[u] for u in best_order))


@lru_cache(maxsize=1 << 16)  # bounded: at most ~1 kB an entry
def _pruned_arch(arch: NB101Arch) -> NB101Arch:
    pruned = _prune_rows(arch.matrix, arch.ops)
    if pruned is None:
        raise ValueError(f"not a NAS-Bench-101 cell: the input does not reach the output in {arch}")
    return NB101Arch(*pruned)


def _mutate(arch: NB101Arch, rng: np.random.Generator, require_change: bool) -> NB101Arch:
    matrix, ops = arch.matrix, arch.ops
    n = len(ops)
    if any(op not in _OP_CODE for op in ops[1:-1]):
        raise ValueError(f"not an NB101 architecture: {arch!r}")
    edge_prob = 1.0 / NUM_VERTICES  # mutation_rate / NUM_VERTICES
    op_prob = 1.0 / OP_SPOTS  # mutation_rate / OP_SPOTS
    spots = [(src, dst) for src in range(n - 1) for dst in range(src + 1, n)]
    while True:
        new = [list(row) for row in matrix]
        for (src, dst), u in zip(spots, rng.random(len(spots))):  # one call: the stream of scalar draws
            if u < edge_prob:
                new[src][dst] = 1 - new[src][dst]
        new_ops = list(ops)
        for ind in range(1, n - 1):
            if rng.random() < op_prob:
                available = _OTHER_OPS[new_ops[ind]]
                new_ops[ind] = available[int(rng.integers(len(available)))]  # what rng.choice draws
        child = NB101Arch(tuple(map(tuple, new)), tuple(new_ops))
        if (not require_change or child != arch) and _check_reason(child.matrix, child.ops) is None:
            return child


def mutate_spec(arch: NB101Arch, rng: np.random.Generator) -> NB101Arch:
    """NASBench.ipynb's mutate_spec(mutation_rate=1.0) exactly, on the spec's own size: each
    upper-triangular entry flipped with probability 1/7, each intermediate op resampled with
    probability 1/5 (to another op), redrawn until api.is_valid; may return ``arch`` itself."""
    return _mutate(arch, rng, require_change=False)


def parse_cell(text: str) -> NB101Arch:
    """Parse the string form; ValueError naming the offending token and the expected form."""

    def bad(message: str) -> ValueError:
        return ValueError(f"invalid NB101 cell {text!r}: {message}; expected {STRING_FORM}")

    if not isinstance(text, str):
        raise ValueError(f"NB101 cell must be a string, got {type(text).__name__}; expected {STRING_FORM}")
    parts = text.split("|")
    if len(parts) != 2:
        raise bad(f"found {len(parts) - 1} '|' separators, need exactly one between ops and matrix")
    op_tokens, row_tokens = parts[0].split(","), parts[1].split(",")
    for k, op in enumerate(op_tokens):
        if op not in _STRING_OPS:
            raise bad(f"unknown op {op!r} at vertex {k}; ops are {', '.join(_STRING_OPS)}")
    n = len(op_tokens)
    if n > NUM_VERTICES:
        raise bad(f"{n} ops, more than the {NUM_VERTICES} vertices a cell may have")
    if n < 2:
        raise bad(f"{n} op(s), need at least input and output")
    if op_tokens[0] != INPUT:
        raise bad(f"first op is {op_tokens[0]!r}, must be {INPUT!r}")
    if op_tokens[-1] != OUTPUT:
        raise bad(f"last op is {op_tokens[-1]!r}, must be {OUTPUT!r}")
    for k, op in enumerate(op_tokens[1:-1], start=1):
        if op not in _OP_CODE:
            raise bad(f"op {op!r} at vertex {k} may only be first/last; "
                      f"intermediate ops are {', '.join(AVAILABLE_OPS)}")
    if len(row_tokens) != n:
        raise bad(f"{n} ops but {len(row_tokens)} matrix rows (one row per op)")
    rows = []
    for i, token in enumerate(row_tokens):
        if not token or set(token) - {"0", "1"}:
            raise bad(f"matrix row {token!r} must be a string of 0s and 1s")
        if len(token) != n:
            raise bad(f"matrix row {token!r} has {len(token)} entries, need {n} "
                      "(the matrix is square, n = number of ops)")
        if "1" in token[:i + 1]:
            raise bad(f"matrix row {token!r} (vertex {i}) has an edge at or below the diagonal; "
                      "the matrix must be upper triangular")
        rows.append(tuple(int(c) for c in token))
    matrix = tuple(rows)
    reason = _check_reason(matrix, tuple(op_tokens))
    if reason is not None:
        raise bad(f"not a NAS-Bench-101 cell: {reason}")
    return NB101Arch(matrix, tuple(op_tokens))


def format_cell(arch: NB101Arch) -> str:
    """The string form of an architecture."""
    return ",".join(arch.ops) + "|" + ",".join("".join(map(str, row)) for row in arch.matrix)


class NB101Space(SearchSpace):
    """The NAS-Bench-101 cell space (see the module docstring); not enumerable without the file."""

    name = "nb101"
    capabilities = frozenset({"single_cell", "path_encoding"})
    max_network_nodes = NUM_VERTICES
    min_path_ops = 0  # the input may feed the output directly: the empty path

    @property
    def operations(self) -> tuple[str, ...]:
        return AVAILABLE_OPS

    @property
    def max_path_ops(self) -> int:
        return OP_SPOTS

    def sample(self, rng: np.random.Generator) -> NB101Arch:
        """random_spec: fair 0/1 draws for the 7×7 matrix, triu(k=1), 7 op draws (first and last then
        set to input/output), until api.is_valid; Generator.integers draws what .choice would."""
        while True:
            matrix = np.triu(rng.integers(0, 2, size=(NUM_VERTICES, NUM_VERTICES)), 1)
            codes = rng.integers(0, len(AVAILABLE_OPS), size=NUM_VERTICES)
            ops = (INPUT, *(AVAILABLE_OPS[k] for k in codes[1:-1]), OUTPUT)
            rows = tuple(map(tuple, matrix.tolist()))
            if _check_reason(rows, ops) is None:
                return NB101Arch(rows, ops)

    def mutate(self, arch: NB101Arch, rng: np.random.Generator) -> NB101Arch:
        """:func:`mutate_spec`, an attempt that changes nothing redrawn like an invalid one (the
        space contract: a mutation changes the spec); the 2-vertex cell, which has no valid
        mutation of its size, is returned as it is."""
        if len(arch.ops) == 2:
            return arch
        return _mutate(arch, rng, require_change=True)

    def neighbours(self, arch: NB101Arch) -> list[NB101Arch]:
        """Every valid spec one op change or one edge flip away from ``arch`` (ops first: vertex,
        then op in available_ops order; then edges row-major), one per isomorphism class, other
        than ``arch``'s own class."""
        seen = {self.canonicalize(arch)}
        out = []
        matrix, ops = arch.matrix, arch.ops
        n = len(ops)
        candidates = []
        for ind in range(1, n - 1):
            for op in _OTHER_OPS[ops[ind]]:
                candidates.append((matrix, ops[:ind] + (op,) + ops[ind + 1:]))
        for src in range(n - 1):
            for dst in range(src + 1, n):
                row = matrix[src][:dst] + (1 - matrix[src][dst],) + matrix[src][dst + 1:]
                candidates.append((matrix[:src] + (row,) + matrix[src + 1:], ops))
        for rows, new_ops in candidates:
            if _check_reason(rows, new_ops) is not None:
                continue
            child = NB101Arch(rows, new_ops)
            key = self.canonicalize(child)
            if key not in seen:
                seen.add(key)
                out.append(child)
        return out

    @memoized_strings
    def to_string(self, arch: NB101Arch) -> str:
        return format_cell(arch)

    def from_string(self, text: str) -> NB101Arch:
        return parse_cell(text)

    def iso_hash(self, arch: NB101Arch) -> str:
        """The official module hash (of the pruned spec): the benchmark store's key."""
        return _official_hash_rows(arch.matrix, arch.ops)

    def canonicalize(self, arch: NB101Arch) -> NB101Arch:
        """The pruned spec, relabeled to the smallest encoding over its topological orders: equal
        for two archs exactly when their pruned specs are isomorphic (see ``_canonical``)."""
        pruned = _pruned_arch(arch)
        return _canonical(pruned.matrix, pruned.ops)

    def to_graph(self, arch: NB101Arch) -> ArchGraph:
        """The pruned spec as an op-on-node DAG (NB101 already puts ops on nodes)."""
        pruned = _pruned_arch(arch)
        cell = CellGraph(adjacency=pruned.adjacency(), ops=pruned.ops, vocabulary=GRAPH_VOCABULARY)
        return ArchGraph(cells={CELL: cell}, skeleton=(CELL,))

    def from_cell_graph(self, adjacency: np.ndarray, ops: Sequence[str]) -> NB101Arch:
        """The spec of a cell graph; ValueError (with nasbench's reason) when it is not one.

        Padded graphs are accepted: vertices with no edge at all whose op is a padding label
        (``none``, empty, None) are dropped, as are intermediate ones labelled ``input``/``output``
        (our encoders insert padding before the output with an all-zero op row, which a decoder
        may name anything) and trailing ones after the output (arch2vec's
        ``preprocessing/gen_json.py`` appends zero rows/columns and zero op rows after it).
        """
        array = np.asarray(adjacency)
        ops = list(ops)
        if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] != len(ops):
            raise ValueError(f"an NB101 cell graph needs a square adjacency with one op per node, "
                             f"got shape {array.shape} and {len(ops)} ops")
        if array.size and not np.isin(array, (0, 1)).all():
            raise ValueError("adjacency entries must be 0 or 1")
        edges = array != 0
        isolated = ~(edges.any(axis=0) | edges.any(axis=1))
        keep = list(range(len(ops)))
        while len(keep) > 2 and isolated[keep[-1]] and ops[keep[-1]] in PADDING_OPS:
            keep.pop()  # arch2vec: padding after the output
        keep = [v for k, v in enumerate(keep)  # ours: padding before the output
                if k in (0, len(keep) - 1) or not isolated[v] or ops[v] not in _PADDING_INSIDE]
        try:
            return make_arch(array[np.ix_(keep, keep)], [ops[v] for v in keep])
        except ValueError as exc:
            raise ValueError(f"{exc} (cell graph ops {ops})") from None
