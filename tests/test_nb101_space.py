"""NB101 space: the official module hash (against published values and a literal transcription of
nasbench's code), pruning and validity as nasbench has them, strings, sampling and mutation with
nasbench's draws, neighbours, canonical forms, graph form."""

from __future__ import annotations

import copy
import hashlib
import itertools
from collections import Counter, defaultdict

import numpy as np
import pytest

from nasstages.spaces.nb101 import (AVAILABLE_OPS, CONV1X1, CONV3X3, MAXPOOL3X3, NB101Arch, NB101Space,
                                    is_valid, make_arch, mutate_spec, official_hash, prune)

space = NB101Space()
C3, C1, MP = CONV3X3, CONV1X1, MAXPOOL3X3
ALLOWED_OPS = [C3, C1, MP]  # NASBench.ipynb's ALLOWED_OPS

# The README / api.py docstring's Inception-like cell.
README_MATRIX = [[0, 1, 1, 1, 0, 1, 0],
                 [0, 0, 0, 0, 0, 0, 1],
                 [0, 0, 0, 0, 0, 0, 1],
                 [0, 0, 0, 0, 1, 0, 0],
                 [0, 0, 0, 0, 0, 0, 1],
                 [0, 0, 0, 0, 0, 0, 1],
                 [0, 0, 0, 0, 0, 0, 0]]
README_OPS = ["input", C1, C3, C3, C3, MP, "output"]


def _nni_arch_to_spec(arch: dict) -> tuple[list[list[int]], list[str]]:
    """NNI's NB101 arch dict (op1..op5, input1..input6 = predecessor lists) as (matrix, ops)."""
    matrix = [[0] * 7 for _ in range(7)]
    for v in range(1, 7):
        for u in arch[f"input{v}"]:
            matrix[u][v] = 1
    return matrix, ["input"] + [arch[f"op{v}"] for v in range(1, 6)] + ["output"]


# Published (matrix, ops, module hash) triples.
PUBLISHED = [
    # microsoft/nni, docs/en_US/NAS/BenchmarksExample.ipynb: query_nb101_trial_stats(arch, 108)
    # prints this arch with 'hash': '00005c142e6f48ac74fdcf73e3439874' (rows of the official file).
    (*_nni_arch_to_spec({"op1": C3, "op2": MP, "op3": C3, "op4": C3, "op5": C1, "input1": [0], "input2": [1],
                         "input3": [2], "input4": [0], "input5": [0, 3, 4], "input6": [2, 5]}),
     "00005c142e6f48ac74fdcf73e3439874"),
    # google-research/unified_functional_hashing, unified_functional_hashing/nasbench/python/evaluator_test.py:
    # the README cell as original_matrix/original_ops with graph_hash "28cfc7874f6d200472e1a9dcd8650aa0",
    # the key of that cell's real NAS-Bench-101 runs in testdata/computed_stats.py.
    (README_MATRIX, README_OPS, "28cfc7874f6d200472e1a9dcd8650aa0"),
]
# google-research/nasbench, NASBench.ipynb ("Basic usage"): querying the README cell returns the
# file's own spec of its class, a relabeling of it.
COLAB_STORED_MATRIX = [[0, 1, 1, 1, 1, 0, 0],
                       [0, 0, 0, 0, 0, 0, 1],
                       [0, 0, 0, 0, 0, 0, 1],
                       [0, 0, 0, 0, 0, 0, 1],
                       [0, 0, 0, 0, 0, 1, 0],
                       [0, 0, 0, 0, 0, 0, 1],
                       [0, 0, 0, 0, 0, 0, 0]]
COLAB_STORED_OPS = ["input", C3, C1, MP, C3, C3, "output"]


# --- literal transcriptions of nasbench's code (the references) ---

def ref_prune(matrix, ops):
    """model_spec.ModelSpec._prune, line for line."""
    original_matrix = np.array(matrix)
    num_vertices = np.shape(original_matrix)[0]
    visited_from_input = set([0])
    frontier = [0]
    while frontier:
        top = frontier.pop()
        for v in range(top + 1, num_vertices):
            if original_matrix[top, v] and v not in visited_from_input:
                visited_from_input.add(v)
                frontier.append(v)
    visited_from_output = set([num_vertices - 1])
    frontier = [num_vertices - 1]
    while frontier:
        top = frontier.pop()
        for v in range(0, top):
            if original_matrix[v, top] and v not in visited_from_output:
                visited_from_output.add(v)
                frontier.append(v)
    extraneous = set(range(num_vertices)).difference(visited_from_input.intersection(visited_from_output))
    if len(extraneous) > num_vertices - 2:
        return None
    new_matrix = np.delete(copy.deepcopy(original_matrix), list(extraneous), axis=0)
    new_matrix = np.delete(new_matrix, list(extraneous), axis=1)
    new_ops = copy.deepcopy(list(ops))
    for index in sorted(extraneous, reverse=True):
        del new_ops[index]
    return new_matrix, new_ops


def ref_hash_module(matrix, labeling):
    """graph_util.hash_module, line for line."""
    vertices = np.shape(matrix)[0]
    in_edges = np.sum(matrix, axis=0).tolist()
    out_edges = np.sum(matrix, axis=1).tolist()
    assert len(in_edges) == len(out_edges) == len(labeling)
    hashes = list(zip(out_edges, in_edges, labeling))
    hashes = [hashlib.md5(str(h).encode('utf-8')).hexdigest() for h in hashes]
    for _ in range(vertices):
        new_hashes = []
        for v in range(vertices):
            in_neighbors = [hashes[w] for w in range(vertices) if matrix[w, v]]
            out_neighbors = [hashes[w] for w in range(vertices) if matrix[v, w]]
            new_hashes.append(hashlib.md5((''.join(sorted(in_neighbors)) + '|' + ''.join(sorted(out_neighbors)) + '|'
                                           + hashes[v]).encode('utf-8')).hexdigest())
        hashes = new_hashes
    return hashlib.md5(str(sorted(hashes)).encode('utf-8')).hexdigest()


def ref_hash_spec(matrix, ops):
    """model_spec.ModelSpec.hash_spec(config['available_ops']) of the pruned spec."""
    pmatrix, pops = ref_prune(matrix, ops)
    labeling = [-1] + [ALLOWED_OPS.index(op) for op in pops[1:-1]] + [-2]
    return ref_hash_module(pmatrix, labeling)


def ref_is_valid(matrix, ops):
    """api.NASBench._check_spec on ModelSpec(matrix, ops)."""
    pruned = ref_prune(matrix, ops)
    if pruned is None:
        return False
    pmatrix, pops = pruned
    return (len(pops) <= 7 and np.sum(pmatrix) <= 9 and pops[0] == "input" and pops[-1] == "output"
            and all(op in ALLOWED_OPS for op in pops[1:-1]))


def ref_random_spec(rng):
    """google-research/unified_functional_hashing random_spec_generator.py: NASBench.ipynb's
    random_spec on a numpy Generator."""
    while True:
        matrix = rng.choice([0, 1], size=(7, 7))
        matrix = np.triu(matrix, 1)
        ops = rng.choice(ALLOWED_OPS, size=(7)).tolist()
        ops[0] = "input"
        ops[-1] = "output"
        if ref_is_valid(matrix, ops):
            return matrix, ops


def ref_mutate_spec(rng, original_matrix, original_ops, mutation_rate=1.0, require_change=False):
    """google-research/unified_functional_hashing mutator.py: NASBench.ipynb's mutate_spec on a
    numpy Generator (``require_change``: our one addition, NB101Space.mutate's)."""
    while True:
        new_matrix = copy.deepcopy(original_matrix)
        new_ops = copy.deepcopy(original_ops)
        edge_mutation_prob = mutation_rate / 7
        for src in range(0, 7 - 1):
            for dst in range(src + 1, 7):
                if rng.random(size=1)[0] < edge_mutation_prob:
                    new_matrix[src, dst] = 1 - new_matrix[src, dst]
        op_mutation_prob = mutation_rate / 5
        for ind in range(1, 7 - 1):
            if rng.random(size=1)[0] < op_mutation_prob:
                available = [o for o in ALLOWED_OPS if o != new_ops[ind]]
                new_ops[ind] = str(rng.choice(available))
        if require_change and np.array_equal(new_matrix, original_matrix) and new_ops == original_ops:
            continue
        if ref_is_valid(new_matrix, new_ops):
            return new_matrix, new_ops


def random_relabel(arch: NB101Arch, rng) -> NB101Arch:
    """``arch`` under a random topological relabeling (graph_util.permute_graph with a permutation
    keeping the matrix upper triangular): an isomorphic spec."""
    matrix = np.array(arch.matrix)
    n = len(arch.ops)
    order, placed = [], set()
    while len(order) < n:
        ready = [v for v in range(n) if v not in placed and all(u in placed for u in np.flatnonzero(matrix[:, v]))]
        if len(order) < n - 1:
            ready = [v for v in ready if v != n - 1] or ready  # keep the output last when possible
        v = ready[int(rng.integers(len(ready)))] if len(order) else 0
        order.append(v)
        placed.add(v)
    return make_arch(matrix[np.ix_(order, order)], [arch.ops[v] for v in order])


def brute_isomorphic(a: NB101Arch, b: NB101Arch) -> bool:
    """graph_util.is_isomorphic restricted to permutations fixing input and output (their labels
    are unique, so no other permutation can match)."""
    ma, mb = np.array(a.matrix), np.array(b.matrix)
    if ma.shape != mb.shape:
        return False
    n = len(a.ops)
    for perm in itertools.permutations(range(1, n - 1)):
        p = [0, *perm, n - 1]  # vertex p[i] of a plays vertex i of b
        if np.array_equal(ma[np.ix_(p, p)], mb) and [a.ops[k] for k in p] == list(b.ops):
            return True
    return False


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(2024)
    return [space.sample(rng) for _ in range(3000)]


# --- tests ---

def test_space_attributes():
    assert space.name == "nb101"
    assert AVAILABLE_OPS == ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")  # nasbench/lib/config.py
    assert space.operations == AVAILABLE_OPS
    assert space.capabilities == frozenset({"single_cell", "path_encoding"})
    assert space.max_path_ops == 5 and space.min_path_ops == 0 and space.max_network_nodes == 7
    assert space.size is None
    with pytest.raises(NotImplementedError):
        space.enumerate()


@pytest.mark.parametrize("matrix, ops, digest", PUBLISHED)
def test_published_module_hashes(matrix, ops, digest):
    assert official_hash(matrix, ops) == digest
    assert official_hash(np.array(matrix, dtype=np.int8), ops) == digest
    assert space.iso_hash(make_arch(matrix, ops)) == digest
    assert ref_hash_spec(matrix, ops) == digest  # the transcription the other tests lean on
    assert official_hash(matrix, ops[:1] + [C1 if op == C3 else op for op in ops[1:]]) != digest


def test_colab_stored_spec_is_the_readme_cell():
    readme, stored = make_arch(README_MATRIX, README_OPS), make_arch(COLAB_STORED_MATRIX, COLAB_STORED_OPS)
    assert readme != stored
    assert space.iso_hash(stored) == space.iso_hash(readme) == "28cfc7874f6d200472e1a9dcd8650aa0"
    assert space.canonicalize(stored) == space.canonicalize(readme)
    assert brute_isomorphic(readme, stored)


def test_hash_and_pruning_match_nasbench_code(samples):
    rng = np.random.default_rng(5)
    archs = list(samples[:600])
    # Unpruned specs of every size, valid or not (the hash only needs a connected spec).
    while len(archs) < 1200:
        n = int(rng.integers(2, 8))
        matrix = np.triu(rng.integers(0, 2, size=(n, n)), 1)
        ops = ["input", *(ALLOWED_OPS[k] for k in rng.integers(0, 3, size=n - 2)), "output"]
        if ref_prune(matrix, ops) is not None:
            archs.append(NB101Arch(tuple(map(tuple, matrix.tolist())), tuple(ops)))
    for arch in archs:
        matrix, ops = np.array(arch.matrix), list(arch.ops)
        assert official_hash(matrix, ops) == ref_hash_spec(matrix, ops)
        ours, ref = prune(matrix, ops), ref_prune(matrix, ops)
        assert np.array_equal(ours[0], ref[0]) and ours[1] == ref[1]
        assert is_valid(matrix, ops) == ref_is_valid(matrix, ops)


def test_pruning_by_hand():
    # Vertex 2 is reached from the input but does not reach the output: removed with its edges.
    matrix = [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    pmatrix, pops = prune(matrix, ["input", C3, MP, "output"])
    assert pmatrix.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]] and pops == ["input", C3, "output"]
    # Vertex 1 reaches the output but is not reached from the input: removed too.
    matrix = [[0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert prune(matrix, ["input", MP, C1, "output"])[1] == ["input", C1, "output"]
    # Nothing to prune: unchanged.
    pmatrix, pops = prune(README_MATRIX, README_OPS)
    assert pmatrix.tolist() == README_MATRIX and pops == README_OPS
    # The input does not reach the output: nasbench's valid_spec False.
    disconnected = [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert prune(disconnected, ["input", C3, C3, "output"]) is None
    assert not is_valid(disconnected, ["input", C3, C3, "output"])
    with pytest.raises(ValueError, match="does not reach"):
        official_hash(disconnected, ["input", C3, C3, "output"])
    with pytest.raises(ValueError, match="upper triangular"):
        prune([[0, 1], [1, 0]], ["input", "output"])
    with pytest.raises(ValueError, match="length of ops"):
        prune([[0, 1], [0, 0]], ["input", C3, "output"])


def _edges(*pairs, n=7):
    matrix = np.zeros((n, n), dtype=int)
    for u, v in pairs:
        matrix[u, v] = 1
    return matrix


def test_edge_and_vertex_limits_apply_after_pruning():
    ops7 = ["input", C3, C3, C1, C1, MP, "output"]
    chain = [(k, k + 1) for k in range(6)]
    full10 = _edges(*chain, (0, 2), (0, 3), (0, 4), (0, 5))  # 10 edges, every vertex live
    assert full10.sum() == 10 and not ref_is_valid(full10, ops7)
    assert not is_valid(full10, ops7)
    with pytest.raises(ValueError, match="too many edges, got 10"):
        space.from_string(space.to_string(NB101Arch(tuple(map(tuple, full10.tolist())), tuple(ops7))))
    nine = _edges(*chain, (0, 2), (0, 3), (0, 4))
    assert nine.sum() == 9 and is_valid(nine, ops7)
    # 10 edges, 6 of them on vertices 4 and 5 that never reach the output: pruned to 4, in the space.
    dead = _edges((0, 1), (1, 2), (2, 3), (3, 6), (0, 4), (0, 5), (1, 4), (2, 5), (4, 5), (3, 5))
    assert dead.sum() == 10 and is_valid(dead, ops7)
    assert prune(dead, ops7)[0].sum() == 4
    arch = make_arch(dead, ops7)
    assert space.from_string(space.to_string(arch)) == arch
    # 8 vertices: in the space for nasbench when pruning leaves 7 (not an arch of ours), not when 8 stay.
    ops8 = ["input", C3, C3, C3, C3, C3, C3, "output"]
    pruned_to_7 = _edges(*[(k, k + 1) for k in range(5)], (5, 7), n=8)  # vertex 6 isolated
    assert is_valid(pruned_to_7, ops8) and ref_is_valid(pruned_to_7, ops8)
    with pytest.raises(ValueError, match="too many vertices"):
        make_arch(pruned_to_7, ops8)
    assert not is_valid(_edges(*[(k, k + 1) for k in range(7)], n=8), ops8)


def test_validity_checks_ops_and_shape():
    matrix = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    assert is_valid(matrix, ["input", C3, "output"])
    assert not is_valid(matrix, ["input", "conv5x5", "output"])
    assert not is_valid(matrix, ["output", C3, "output"])
    assert not is_valid(matrix, ["input", C3, "input"])
    assert not is_valid([[0, 1, 0], [0, 0, 1]], ["input", C3, "output"])  # not square
    assert not is_valid([[0, 1, 0], [0, 0, 1], [0, 1, 0]], ["input", C3, "output"])  # below the diagonal
    assert not is_valid([[0, 1, 0], [0, 1, 1], [0, 0, 0]], ["input", C3, "output"])  # diagonal
    assert not is_valid(matrix, ["input", "output"])
    assert not is_valid([[0, 2, 0], [0, 0, 1], [0, 0, 0]], ["input", C3, "output"])
    # nasbench checks ops of the pruned spec only: a dead vertex's op is not looked at ...
    dead = [[0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert is_valid(dead, ["input", "conv5x5", MP, "output"])
    # ... while an arch of ours carries an available op on every vertex between input and output.
    with pytest.raises(ValueError, match="unsupported op 'conv5x5'"):
        make_arch(dead, ["input", "conv5x5", MP, "output"])


def test_string_round_trip(samples):
    arch = space.from_string("input,conv3x3-bn-relu,output|010,001,000")
    assert arch == NB101Arch(((0, 1, 0), (0, 0, 1), (0, 0, 0)), ("input", C3, "output"))
    assert space.to_string(arch) == "input,conv3x3-bn-relu,output|010,001,000"
    for a in samples[:500]:
        text = space.to_string(a)
        assert space.from_string(text) == a
        assert space.from_string(space.to_string(space.canonicalize(a))) == space.canonicalize(a)
    assert len({space.to_string(a) for a in samples}) == len(set(samples))


@pytest.mark.parametrize("text, token", [
    ("input,conv5x5-bn-relu,output|010,001,000", "'conv5x5-bn-relu'"),
    ("input,conv3x3-bn-relu,output", "found 0 '|'"),
    ("input,conv3x3-bn-relu,output|010|001,000", "found 2 '|'"),
    ("input,conv3x3-bn-relu,output|010,001", "2 matrix rows"),
    ("input,conv3x3-bn-relu,output|010,0011,000", "'0011'"),
    ("input,conv3x3-bn-relu,output|010,00,000", "'00'"),
    ("input,conv3x3-bn-relu,output|010,0x1,000", "'0x1'"),
    ("input,conv3x3-bn-relu,output|010,011,000", "'011'"),  # diagonal
    ("input,conv3x3-bn-relu,output|010,101,000", "'101'"),  # below the diagonal
    ("conv3x3-bn-relu,input,output|010,001,000", "first op is 'conv3x3-bn-relu'"),
    ("input,output,conv3x3-bn-relu|010,001,000", "last op is 'conv3x3-bn-relu'"),
    ("input,input,output|010,001,000", "op 'input' at vertex 1"),
    ("input|0", "1 op(s)"),
    ("input,conv3x3-bn-relu,conv3x3-bn-relu,output|0100,0000,0001,0000", "disconnected"),
    ("input," + ",".join(["maxpool3x3"] * 5) + ",output|" + ",".join(
        "".join("1" if j > i else "0" for j in range(7)) for i in range(7)), "too many edges, got 21"),
    ("input," + ",".join(["maxpool3x3"] * 6) + ",output|" + ",".join(["0" * 8] * 8), "8 ops"),
    ("", "found 0 '|'"),
    ("input,,output|010,001,000", "unknown op ''"),
])
def test_bad_string_names_the_token(text, token):
    with pytest.raises(ValueError, match=r"invalid NB101 cell") as info:
        space.from_string(text)
    assert token in str(info.value)
    assert "expected '<ops comma-separated>|<matrix rows comma-separated>'" in str(info.value)


def test_non_string_is_rejected():
    with pytest.raises(ValueError, match="must be a string"):
        space.from_string(None)


def test_sampling_is_random_spec_with_the_same_draws(samples):
    assert all(is_valid(np.array(a.matrix), a.ops) for a in samples)
    assert all(len(a.ops) == 7 for a in samples)  # the original 7x7 spec is kept
    assert [space.sample(np.random.default_rng(11)) for _ in range(3)] == [space.sample(np.random.default_rng(11))] * 3
    ours, ref = np.random.default_rng(9), np.random.default_rng(9)
    for _ in range(300):
        arch = space.sample(ours)
        matrix, ops = ref_random_spec(ref)
        assert arch == make_arch(matrix, ops)
    # And the distribution of pruned sizes is random_spec's (independent seeds; ~4 sigma bounds).
    n = 3000
    ref = np.random.default_rng(123)
    ref_sizes = Counter(len(ref_prune(*ref_random_spec(ref))[1]) for _ in range(n))
    our_sizes = Counter(len(space.to_graph(a).cells["cell"].ops) for a in samples)
    for size in range(2, 8):
        p, q = our_sizes[size] / n, ref_sizes[size] / n
        assert abs(p - q) <= 4 * np.sqrt(max(p * (1 - p), q * (1 - q), 1 / n) * 2 / n), (size, p, q)
    assert set(our_sizes) == set(range(2, 8))  # every pruned size, from input->output to all 7 vertices


def test_mutate_spec_is_nasbench_with_the_same_draws(samples):
    ours, ref = np.random.default_rng(17), np.random.default_rng(17)
    unchanged = 0
    for parent in samples[:400]:
        child = mutate_spec(parent, ours)
        matrix, ops = ref_mutate_spec(ref, np.array(parent.matrix), list(parent.ops))
        assert child == make_arch(matrix, ops)
        unchanged += child == parent
    assert 0 < unchanged < 20  # nasbench returns the parent itself when nothing flips: ~1.5%


def test_mutation_changes_the_spec_with_nasbench_draws(samples):
    ours, ref = np.random.default_rng(18), np.random.default_rng(18)
    for parent in samples[:400]:
        child = space.mutate(parent, ours)
        matrix, ops = ref_mutate_spec(ref, np.array(parent.matrix), list(parent.ops), require_change=True)
        assert child == make_arch(matrix, ops)
        assert child != parent and space.to_string(child) != space.to_string(parent)
        assert is_valid(np.array(child.matrix), child.ops) and len(child.ops) == 7
    rng = np.random.default_rng(3)
    changes = [sum(a != b for ra, rb in zip(p.matrix, c.matrix) for a, b in zip(ra, rb))
               + sum(a != b for a, b in zip(p.ops, c.ops)) for p in samples[:500] for c in [space.mutate(p, rng)]]
    assert 3.0 < np.mean(changes) < 5.0  # in expectation 21/7 edge flips + 5/5 op changes (before rejection)


def test_mutation_of_a_pruned_spec_keeps_its_size():
    rng = np.random.default_rng(0)
    small = space.from_string("input,conv3x3-bn-relu,maxpool3x3,output|0110,0001,0001,0000")
    children = [space.mutate(small, rng) for _ in range(300)]
    assert all(len(c.ops) == 4 and is_valid(np.array(c.matrix), c.ops) for c in children)
    assert len({space.iso_hash(c) for c in children}) > 3
    tiny = space.from_string("input,output|01,00")
    assert space.mutate(tiny, rng) == tiny == mutate_spec(tiny, rng)  # its only edge cannot go


def test_neighbours(samples):
    for arch in samples[:150]:
        neighbours = space.neighbours(arch)
        assert neighbours == space.neighbours(arch)  # fixed order
        keys = [space.canonicalize(n) for n in neighbours]
        assert len(set(keys)) == len(keys) and space.canonicalize(arch) not in keys
        for n in neighbours:
            assert is_valid(np.array(n.matrix), n.ops)
            edits = (np.array(n.matrix) != np.array(arch.matrix)).sum() + sum(a != b for a, b in zip(n.ops, arch.ops))
            assert edits == 1
        # Complete: every valid single edit lands in the arch's class or a listed one.
        classes = set(keys) | {space.canonicalize(arch)}
        matrix = np.array(arch.matrix)
        for i, j in zip(*np.triu_indices(7, 1)):
            flipped = matrix.copy()
            flipped[i, j] ^= 1
            if is_valid(flipped, arch.ops):
                assert space.canonicalize(make_arch(flipped, arch.ops)) in classes
    assert sum(len(space.neighbours(a)) for a in samples[:50]) > 50 * 5


def test_canonical_form_agrees_with_the_official_hash(samples):
    rng = np.random.default_rng(1)
    by_hash, by_canonical = defaultdict(set), defaultdict(set)
    for arch in samples:
        canonical = space.canonicalize(arch)
        assert space.canonicalize(canonical) == canonical
        assert space.iso_hash(canonical) == space.iso_hash(arch)
        assert canonical == make_arch(canonical.matrix, canonical.ops)  # a valid arch itself
        assert len(canonical.ops) == len(space.to_graph(arch).cells["cell"].ops)  # pruned
        for _ in range(2):
            relabeled = random_relabel(arch, rng)
            assert space.canonicalize(relabeled) == canonical
            assert space.iso_hash(relabeled) == space.iso_hash(arch)
        by_hash[space.iso_hash(arch)].add(canonical)
        by_canonical[canonical].add(space.iso_hash(arch))
    assert all(len(v) == 1 for v in by_hash.values()) and all(len(v) == 1 for v in by_canonical.values())
    assert len(by_hash) > 1000  # many classes (small cells recur), so the agreement is not vacuous
    # Where two different pruned specs share a hash, they are isomorphic by brute force.
    pruned = defaultdict(set)
    for arch in samples:
        matrix, ops = prune(np.array(arch.matrix), arch.ops)
        pruned[space.iso_hash(arch)].add(NB101Arch(tuple(map(tuple, matrix.tolist())), tuple(ops)))
    pairs = [pair for specs in pruned.values() for pair in itertools.combinations(sorted(specs), 2)]
    assert len(pairs) > 20
    assert all(brute_isomorphic(a, b) for a, b in pairs)


def test_canonical_form_separates_near_misses():
    # Same edges, ops swapped across asymmetric branches: not isomorphic, different hashes and forms.
    a = space.from_string("input,conv3x3-bn-relu,conv1x1-bn-relu,conv3x3-bn-relu,output|01100,00010,00001,00001,00000")
    b = space.from_string("input,conv1x1-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,output|01100,00010,00001,00001,00000")
    assert not brute_isomorphic(a, b)
    assert space.canonicalize(a) != space.canonicalize(b) and space.iso_hash(a) != space.iso_hash(b)
    # Symmetric branches swapped: isomorphic.
    c = space.from_string("input,conv1x1-bn-relu,conv3x3-bn-relu,output|0110,0001,0001,0000")
    d = space.from_string("input,conv3x3-bn-relu,conv1x1-bn-relu,output|0110,0001,0001,0000")
    assert space.canonicalize(c) == space.canonicalize(d) and space.iso_hash(c) == space.iso_hash(d)


def test_graph_form(samples):
    arch = make_arch(_edges((0, 1), (1, 2), (2, 3), (3, 6), (0, 4), (0, 5), (1, 4), (2, 5), (4, 5), (3, 5)),
                     ["input", C3, C1, MP, C3, C3, "output"])
    graph = space.to_graph(arch)
    assert graph.skeleton == ("cell",) and list(graph.cells) == ["cell"]
    cell = graph.cells["cell"]
    assert cell.adjacency.dtype == np.uint8 and cell.adjacency.shape == (5, 5)
    assert cell.ops == ("input", C3, C1, MP, "output")
    assert cell.vocabulary == ("input", C3, C1, MP, "output")
    assert cell.one_hot().shape == (5, 5) and np.all(cell.one_hot().sum(axis=1) == 1)
    assert space.network_graph(arch) is not None and len(space.network_graph(arch).ops) == 5
    for a in samples[:300]:
        cell = space.to_graph(a).cells["cell"]
        assert np.all(np.tril(cell.adjacency) == 0) and cell.ops[0] == "input" and cell.ops[-1] == "output"
        back = space.from_cell_graph(cell.adjacency, cell.ops)
        assert space.iso_hash(back) == space.iso_hash(a) and space.canonicalize(back) == space.canonicalize(a)


def test_from_cell_graph_accepts_padding_and_rejects_invalid(samples):
    from nasstages.encoders.graphs import graph_tensors

    archs = [a for a in samples[:200] if len(space.to_graph(a).cells["cell"].ops) < 7][:40]
    assert archs
    tensors = graph_tensors(space, archs)  # our encoders' padding: empty nodes before the output
    assert tensors.adjacency.shape[1:] == (7, 7)
    for arch, adjacency, ops in zip(archs, tensors.adjacency, tensors.ops):
        names = [tensors.vocabulary[k] for k in ops.argmax(-1)]  # a padded row decodes to 'input'
        assert space.canonicalize(space.from_cell_graph(adjacency, names)) == space.canonicalize(arch)
    # arch2vec's preprocessing/gen_json.py: zero rows/columns and zero op rows after the output.
    padded = np.zeros((7, 7), dtype=np.int8)
    padded[:3, :3] = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    arch = space.from_cell_graph(padded, ["input", C3, "output", "none", "none", "none", "none"])
    assert arch == space.from_string("input,conv3x3-bn-relu,output|010,001,000")
    # An isolated vertex with a real op is part of the spec (pruned for the hash), not padding.
    kept = space.from_cell_graph(_edges((0, 1), (1, 3), n=4), ["input", C3, MP, "output"])
    assert len(kept.ops) == 4 and space.iso_hash(kept) == space.iso_hash(arch)
    with pytest.raises(ValueError, match="disconnected"):
        space.from_cell_graph(_edges((0, 1), (2, 3), n=4), ["input", C3, C3, "output"])
    with pytest.raises(ValueError, match="too many edges"):
        space.from_cell_graph(_edges(*[(k, k + 1) for k in range(6)], (0, 2), (0, 3), (0, 4), (0, 5)),
                              ["input", C3, C3, C1, C1, MP, "output"])
    with pytest.raises(ValueError, match="unsupported op"):
        space.from_cell_graph(_edges((0, 1), (1, 2), n=3), ["input", "none", "output"])  # 'none' on a live vertex
    with pytest.raises(ValueError, match="last operation"):
        space.from_cell_graph(_edges((0, 1), (1, 2), n=3), ["input", C3, C3])
    with pytest.raises(ValueError, match="square"):
        space.from_cell_graph(np.zeros((3, 4)), ["input", C3, "output"])


def test_path_encoding_inputs(samples):
    from nasstages.distances.simple import input_output_paths

    direct = space.from_string("input,conv3x3-bn-relu,output|011,001,000")
    assert sorted(input_output_paths(space.to_graph(direct).cells["cell"])) == [(), (C3,)]
    for a in samples[:200]:
        paths = input_output_paths(space.to_graph(space.canonicalize(a)).cells["cell"])
        assert paths and all(space.min_path_ops <= len(p) <= space.max_path_ops for p in paths)
        assert all(op in space.operations for p in paths for op in p)


def test_strings_are_memoized():
    arch = space.from_string("input,maxpool3x3,output|010,001,000")
    assert space.to_string(arch) is space.to_string(arch)  # base.memoized_strings, as nb201
