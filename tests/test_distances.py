"""Distance metrics on NB201 cells: metric properties, invariances, oracles, and the tiled stage."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import ot
import pytest

from nasstages.distances import DISTANCES, make_distance
from nasstages.distances.fgw_solver import fgw
from nasstages.distances.hotnn import HOTNN, PackedCells, network_distances
from nasstages.distances.ops import op_distance_table
from nasstages.distances.otmann import OTMANN, exact_emd_cost
from nasstages.distances.store import read_matrix
from nasstages.errors import ConfigError, CorruptStoreError, NasstagesError, UnknownNameError
from nasstages.spaces import get_space

space = get_space("nb201")
CHEAP = ["hotnn", "otmann", "tw", "edit", "path", "anasod"]


@pytest.fixture(scope="module")
def archs():
    rng = np.random.default_rng(0)
    return [space.sample(rng) for _ in range(80)]


@pytest.mark.parametrize("metric", CHEAP)
def test_metric_properties(metric, archs):
    distance = make_distance(metric, space)
    whole = distance.pairwise(archs)
    assert whole.shape == (80, 80)
    np.testing.assert_allclose(whole, whole.T, atol=1e-12)
    assert np.all(np.diag(whole) == 0) and np.all(whole >= -1e-12)
    assert np.count_nonzero(whole) > 0.9 * 80 * 79
    np.testing.assert_allclose(distance.pairwise(archs[:30], archs[30:]), whole[:30, 30:], atol=1e-12)


@pytest.mark.parametrize("metric", CHEAP)
def test_dead_edges_and_swapped_nodes_do_not_count(metric):
    base = space.from_string("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    swapped = space.from_string("|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
    # node 1 fed by nothing: its outgoing ops are dead
    dead_a = space.from_string("|none~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    dead_b = space.from_string("|none~0|+|avg_pool_3x3~0|skip_connect~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    other = space.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    d = make_distance(metric, space).pairwise([base, swapped, dead_a, dead_b, other])
    assert d[0, 1] == 0 and d[2, 3] == 0
    np.testing.assert_allclose(d[0], d[1], atol=1e-12)
    np.testing.assert_allclose(d[2], d[3], atol=1e-12)
    assert d[0, 4] > 0 and d[2, 4] > 0


def test_tree_wasserstein_kernel_is_positive_semidefinite():
    rng = np.random.default_rng(1)
    archs = [space.sample(rng) for _ in range(300)]
    tw = make_distance("tw", space).pairwise(archs)
    for t in (0.1, 1.0, 10.0):
        assert np.linalg.eigvalsh(np.exp(-t * tw)).min() > -1e-8
    # OTMANN is not negative definite in general; the check above is not vacuous for it
    assert tw.max() > 0


def test_tree_wasserstein_matches_hand_worked_cells():
    """TW-NAS's op tree (a = 0.1) and degree chains on cells worked by hand from the reference's
    tree: 1-gram alone 0.6, with 2-grams 8/7 (A: 6 ops and 4 op pairs, B: 5 and 2, joint masses)."""
    from nasstages.distances.tree_wasserstein import cell_embedding
    from nasstages.spaces.base import CellGraph

    a = space.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
    b = space.from_string("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    ops_only = {"lambda_in": 0.0, "lambda_out": 0.0}
    assert make_distance("tw", space, {"ngram": 1, **ops_only}).pairwise([a, b])[0, 1] == pytest.approx(0.6, abs=1e-12)
    assert make_distance("tw", space, ops_only).pairwise([a, b])[0, 1] == pytest.approx(8 / 7, abs=1e-12)
    # in->1->out against in->1, in->out, 1->out: in-degree per layer [0, .5, .5] at 0, 1/3, 2/3 vs
    # [0, 1] at 0, 1/2 (W = 1/6); out-degree [.5, .5, 0] vs [2/3, 1/3] (W = 1/9)
    vocabulary = ("input", "nor_conv_3x3", "output")
    chain = CellGraph(adjacency=np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]), ops=vocabulary, vocabulary=vocabulary)
    skip = CellGraph(adjacency=np.array([[0, 1, 1], [0, 0, 1], [0, 0, 0]]), ops=vocabulary, vocabulary=vocabulary)
    for weights, expected in (({"lambda_ops": 0.0, "lambda_out": 0.0}, 1 / 6), ({"lambda_ops": 0.0, "lambda_in": 0.0}, 1 / 9)):
        gap = np.abs(cell_embedding(chain, **weights) - cell_embedding(skip, **weights)).sum()
        assert gap == pytest.approx(expected, abs=1e-12)
    # a none node cuts its edges: b's degree chains differ from a's (the full line graph)
    full = make_distance("tw", space).pairwise([a, b])[0, 1]
    assert full > 8 / 7 + 1e-3


def test_edit_and_path_count_what_they_claim():
    a = space.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    b = space.from_string("|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    single = space.from_string("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    empty = space.from_string("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    edit = make_distance("edit", space).pairwise([a, b, single, empty])
    assert edit[0, 1] == 1  # one op differs, same active edges
    path = make_distance("path", space).pairwise([a, b, single, empty])
    assert path[2, 3] == 1  # one path (conv3x3) against none
    # a: paths 0-3, 0-1-3, 0-2-3, 0-1-2-3 give op sequences of length 1, 2, 3 -> 3 distinct bits
    assert path[0, 3] == 3
    # b: 0-1-3 becomes (c1,c3) and 0-1-2-3 (c1,c3,c3); (c3,c3) survives via 0-2-3: 1 bit off, 2 on
    assert path[0, 1] == 3


def test_otmann_uses_exact_ot_and_is_zero_only_for_equal_cells(archs):
    d = OTMANN(space)
    la, lb = d.layers(archs[0]), d.layers(archs[1])
    a = np.append(la[1], lb[1].sum())
    b = np.append(lb[1], la[1].sum())
    cost = np.random.default_rng(0).random((len(a), len(b)))
    assert exact_emd_cost(a, b, cost) == pytest.approx(ot.emd2(a, b, cost), rel=1e-9)
    whole = d.pairwise(archs)
    canonical = [space.canonicalize(x) for x in archs]
    for i in range(len(archs)):
        for j in range(i + 1, len(archs)):
            assert (whole[i, j] == 0) == (canonical[i] == canonical[j])


@pytest.mark.parametrize("integer_costs", [False, True])
def test_compiled_emd_equals_pot(integer_costs):
    """The compiled OTMANN solver against POT's network simplex, degenerate (tied) costs included."""
    from nasstages.distances.otmann_solver import emd_ssp, ssp_workspace

    rng = np.random.default_rng(3)
    L = 27
    work = ssp_workspace(L)
    for _ in range(300):
        n, m = rng.integers(1, L, size=2)
        a = rng.random(n) * 10
        b = rng.random(m)
        b *= a.sum() / b.sum()
        cost = rng.integers(0, 3, (n, m)).astype(float) if integer_costs else rng.random((n, m))
        padded = np.zeros((L, L))
        padded[:n, :m] = cost
        assert emd_ssp(a, b, padded, n, m, *work) == pytest.approx(ot.emd2(a, b, cost), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("space_name", ["nb201", "tnb101_macro"])
def test_otmann_equals_per_pair_pot(space_name):
    """Every pair of the compiled block equals POT on the same cost (NASBOT eq. 3), in either call shape."""
    own = get_space(space_name)
    rng = np.random.default_rng(5)
    nets = [own.sample(rng) for _ in range(40)]
    d = OTMANN(own)
    whole = d.pairwise(nets)
    np.testing.assert_array_equal(d.pairwise(nets[:15], nets[15:]), whole[:15, 15:])
    keys = [own.canonicalize(x) for x in nets]
    names = list(d._op_index)
    table = np.array([[d.mismatch(x, y) for y in names] for x in names])
    for i in range(len(nets)):
        for j in range(i + 1, len(nets)):
            if keys[i] == keys[j]:
                assert whole[i, j] == 0
                continue
            ref = d._solve_with_pot(d.layers(keys[i]), d.layers(keys[j]), table, keys[i] < keys[j])
            assert whole[i, j] == pytest.approx(ref, rel=1e-10)


def test_otmann_masses_and_label_costs_are_nasbots():
    """NASBOT's compute_layer_masses (conv in x units, pool in-channels, input / output
    max(0.1 sum, 100)) and its label mismatch (sqrt(2)/10 sqrt|dk|, conv-res rule, pools 0.5)."""
    d = OTMANN(space)
    arch = space.from_string("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    ops, mass, paths = d.layers(arch)
    names = [list(d._op_index)[k] for k in ops]
    expected = {"nor_conv_3x3": 256.0, "nor_conv_1x1": 256.0, "avg_pool_3x3": 16.0, "skip_connect": 16.0}
    assert [m for n, m in zip(names, mass) if n in expected] == [expected[n] for n in names if n in expected]
    assert mass[names.index("input")] == mass[names.index("output")] == pytest.approx(0.1 * (4 * 256 + 2 * 16))
    assert paths.shape == (8, 24)  # 3 lengths x 2 directions x groups all / conv / pool / fc
    only_pools = space.from_string("|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|")
    _, small, _ = d.layers(only_pools)
    assert small[0] == small[-1] == 100.0  # the floor
    assert d.mismatch("nor_conv_1x1", "nor_conv_3x3") == pytest.approx(0.2)
    assert d.mismatch("sep_conv_3x3", "dil_conv_3x3") == pytest.approx(0.1)
    assert d.mismatch("sep_conv_3x3", "dil_conv_5x5") == pytest.approx(0.9 * 0.2 + 0.1)
    assert d.mismatch("max_pool_3x3", "avg_pool_3x3") == 0.5
    assert d.mismatch("nor_conv_3x3", "avg_pool_3x3") >= 1e5
    macro = OTMANN(get_space("tnb101_macro"))
    assert macro.mismatch("conv_3x3", "conv_3x3_widen") == pytest.approx(0.1)
    earlier = OTMANN(space, masses="kernel", conv_mismatch=0.2, pool_mismatch=0.2, path_groups="all", io_mass_floor=0.1)
    _, kernel_mass, kernel_paths = earlier.layers(arch)
    assert sorted(kernel_mass[1:-1]) == [1.0, 1.0, 1.0, 9.0, 9.0, 9.0] and kernel_paths.shape == (8, 6)


def test_hotnn_equals_per_pair_reference(archs):
    hotnn = HOTNN(space, epsilon=0.3, lam=0.6, eta=0.2)
    d = hotnn.pairwise(archs[:12])
    cells = [space.to_graph(space.canonicalize(a)).cells["cell"] for a in archs[:12]]
    vocabulary = sorted(set(cells[0].vocabulary))
    D = op_distance_table(vocabulary)
    packed = PackedCells(cells, vocabulary, D, 0.3)
    for i in range(12):
        for j in range(i + 1, 12):
            first, second = sorted((i, j), key=lambda k: space.to_string(space.canonicalize(archs[k])))
            h = np.abs(packed.structure[first][:, None] - packed.structure[second][None]).mean(axis=2)
            M = 0.3 * D[packed.ops[first][:, None], packed.ops[second][None]] + 0.7 * h
            value, _ = fgw(M, packed.intra[first], packed.intra[second], lam=0.6, loss="absolute")
            if space.canonicalize(archs[i]) == space.canonicalize(archs[j]):
                value = 0.0
            assert d[i, j] == pytest.approx(0.8 * value, rel=1e-9, abs=1e-12)


def test_network_level_emd_for_multi_cell_skeletons():
    cell_d = np.array([[0.0, 0.4, 0.9], [0.4, 0.0, 0.5], [0.9, 0.5, 0.0]])
    slots = [np.array([0, 0, 1]), np.array([2, 1]), np.array([0, 0, 0])]
    out = network_distances(cell_d, slots, slots, eta=0.25)
    for i, a in enumerate(slots):
        for j, b in enumerate(slots):
            pa = np.arange(len(a)) / max(len(a) - 1, 1)
            pb = np.arange(len(b)) / max(len(b) - 1, 1)
            cost = 0.75 * cell_d[a[:, None], b[None]] + 0.25 * np.abs(pa[:, None] - pb[None])
            expected = ot.emd2(np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b)), cost)
            assert out[i, j] == pytest.approx(expected, abs=1e-12)


def test_embedding_distance_reads_vectors(tmp_path, archs):
    vectors = np.random.default_rng(2).normal(size=(len(archs), 5))
    path = tmp_path / "emb.h5"
    with h5py.File(path, "w") as h5:
        h5["archs"] = np.array([space.to_string(a) for a in archs], dtype=object).astype("S")
        h5["embeddings"] = vectors
    d = make_distance("embedding_l2", space, {"embeddings": str(path)}).pairwise(archs[:5], archs[5:9])
    np.testing.assert_allclose(d, np.linalg.norm(vectors[:5, None] - vectors[None, 5:9], axis=2))
    missing = space.from_string("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    if missing not in archs:
        with pytest.raises(ConfigError, match="no embedding"):
            make_distance("embedding_l2", space, {"embeddings": str(path)}).pairwise([missing])
    with pytest.raises(ConfigError, match="pretrain"):
        make_distance("embedding_l2", space, {"embeddings": str(tmp_path / "none.h5")})


def test_unknown_metric_and_parameter_fail_clearly():
    with pytest.raises(UnknownNameError, match="choose one of: anasod"):
        make_distance("wasserstein9", space)
    with pytest.raises(ConfigError, match="accepts: epsilon, lam, eta"):
        make_distance("hotnn", space, {"alpha": 0.5})
    with pytest.raises(ConfigError, match="loss"):
        make_distance("hotnn", space, {"loss": "cubic"})
    assert set(CHEAP) < set(DISTANCES)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "nasstages", *map(str, args)], capture_output=True, text=True)


def test_tiles_merge_into_the_direct_matrix(tmp_path):
    pool = tmp_path / "pool.h5"
    assert _cli("sample", "--space", "nb201", "--name", "t", "--size", 23, "--out", pool).returncode == 0
    tiles = []
    for i in range(3):
        for j in range(i, 3):
            out = tmp_path / f"{i}_{j}.h5"
            run = _cli("distances", "tile", "--space", "nb201", "--metric", "hotnn", "--params", '{"eta": 0.1}',
                       "--pool", pool, "--tiles", 3, "--tile", i, j, "--out", out)
            assert run.returncode == 0, run.stderr
            tiles.append(out)
    matrix = tmp_path / "m.h5"
    run = _cli("distances", "merge", "--space", "nb201", "--metric", "hotnn", "--params", '{"eta": 0.1}',
               "--pool", pool, "--tiles", 3, "--inputs", *tiles, "--out", matrix)
    assert run.returncode == 0, run.stderr
    result = read_matrix(matrix)
    from nasstages.pools import read_pool

    direct = HOTNN(space, eta=0.1).pairwise(read_pool(pool).archs)
    np.testing.assert_allclose(result.distances, direct.astype(np.float32), rtol=1e-6)
    assert result.params["eta"] == 0.1 and result.metric == "hotnn" and len(result.archs) == 23
    with h5py.File(matrix) as h5:
        assert h5["distances"].chunks is not None and h5["distances"].dtype == np.float32

    # a tile made with other parameters is refused, a missing tile is named
    run = _cli("distances", "merge", "--space", "nb201", "--metric", "hotnn", "--params", '{"eta": 0.3}',
               "--pool", pool, "--tiles", 3, "--inputs", *tiles, "--out", tmp_path / "x.h5")
    assert run.returncode == 2 and "params_hash" in run.stderr and not (tmp_path / "x.h5").exists()
    run = _cli("distances", "merge", "--space", "nb201", "--metric", "hotnn", "--params", '{"eta": 0.1}',
               "--pool", pool, "--tiles", 3, "--inputs", *tiles[:-1], "--out", tmp_path / "x.h5")
    assert run.returncode == 2 and "missing" in run.stderr

    truncated = tmp_path / "trunc.h5"
    truncated.write_bytes(matrix.read_bytes()[:2000])
    with pytest.raises(CorruptStoreError, match="delete it"):
        read_matrix(truncated)
    with pytest.raises(NasstagesError):
        from nasstages.distances.store import tile_bounds

        tile_bounds(5, 6)


def test_gpu_engine_code_matches_cpu_in_the_cuda_simulator():
    """The CUDA kernel's code, run on the CPU by numba's simulator, equals the CPU engine."""
    script = (
        "import numpy as np\n"
        "from nasstages.spaces import get_space\n"
        "from nasstages.distances.hotnn import HOTNN\n"
        "space = get_space('nb201'); rng = np.random.default_rng(3)\n"
        "archs = [space.sample(rng) for _ in range(7)]\n"
        "for loss in ('absolute', 'square'):\n"
        "    for a, b in ((archs, None), (archs[:3], archs[3:])):\n"
        "        cpu = HOTNN(space, loss=loss, restarts=2).pairwise(a, b)\n"
        "        gpu = HOTNN(space, loss=loss, restarts=2, device='cuda').pairwise(a, b)\n"
        "        assert np.abs(cpu - gpu).max() <= 1e-12, (loss, np.abs(cpu - gpu).max())\n"
        "print('ok')\n"
    )
    import os

    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "NUMBA_ENABLE_CUDASIM": "1"})
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_cuda_requested_without_gpu_fails_clearly():
    from nasstages.distances.fgw_cuda import cuda_available

    if cuda_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        make_distance("hotnn", space, device="cuda").pairwise([space.sample(np.random.default_rng(0))] * 2)


def _matrix_with_tiles(tmp_path):
    from conftest import tiled_matrix

    space_ = get_space("nb201")
    metric = make_distance("edit", space_, {})
    strings, tiles, matrix = tiled_matrix(metric, space_.sample_unique(12, np.random.default_rng(5)), 2, tmp_path)
    return metric, strings, tiles, matrix


@pytest.mark.parametrize("damage", ["asymmetric", "nan_diagonal"])
def test_an_edited_matrix_is_refused_by_its_checksum(tmp_path, damage):
    _, _, _, matrix = _matrix_with_tiles(tmp_path)
    with h5py.File(matrix, "r+") as h5:  # an in-place edit keeps the file valid HDF5
        if damage == "asymmetric":
            h5["distances"][2, 5] = h5["distances"][2, 5] + 1.0
        else:
            h5["distances"][3, 3] = np.nan
    with pytest.raises(CorruptStoreError, match="does not match its recorded checksum.*delete it and rerun"):
        read_matrix(matrix)


def test_a_flipped_tile_is_refused_by_the_merge(tmp_path):
    from nasstages.distances.store import merge_tiles

    metric, strings, tiles, _ = _matrix_with_tiles(tmp_path)
    with h5py.File(tiles[1], "r+") as h5:
        block = h5["block"][()]
        flipped = block.view(np.uint8).copy()
        flipped[:16] ^= 0xFF  # 16 bytes flipped
        h5["block"][...] = flipped.view(np.float32).reshape(block.shape)
    with pytest.raises(CorruptStoreError, match=f"{tiles[1]} does not match its recorded checksum"):
        merge_tiles(metric, strings, 2, tiles, tmp_path / "again.h5", {})
    assert not (tmp_path / "again.h5").exists()


def test_pre_job_check_refuses_a_damaged_matrix_without_touching_anything(tmp_path):
    from nasstages.config import check_existing_results
    from nasstages.errors import ConfigError

    results = tmp_path / "results"
    (results / "distances" / "nb201" / "edit").mkdir(parents=True)
    _, _, _, matrix = _matrix_with_tiles(tmp_path)
    target = results / "distances" / "nb201" / "edit" / "p.h5"
    target.write_bytes(matrix.read_bytes())
    config = {"results": str(results), "benchmarks": {}, "distances": {"nb201": {"pools": ["p"], "metrics": {"edit": {}}}}}
    check_existing_results(config)  # intact: passes
    with h5py.File(target, "r+") as h5:
        h5["distances"][0, 1] = 7.0
    before = target.read_bytes()
    with pytest.raises(ConfigError, match="p.h5 does not match its recorded checksum.*no result was touched"):
        check_existing_results(config)
    assert target.read_bytes() == before


@pytest.mark.parametrize("space_name", ["nb201", "tnb101_macro", "darts"])
def test_hotnn_pairwise_from_its_cell_store_equals_packing_each_call(space_name):
    """pairwise gathers cells from a store grown call by call; the values equal packing the
    call's unique cells afresh (PackedCells, sorted op ids) and the network-level EMD on them."""
    from nasstages.spaces import get_space

    sp = get_space(space_name)
    rng = np.random.default_rng(4)
    archs = [sp.sample(rng) for _ in range(30)]
    metric = HOTNN(sp, eta=0.3)
    metric.pairwise(archs[20:])  # the store holds other cells first: rows out of call order
    got = metric.pairwise(archs[:12], archs[8:20])
    nets_a = [sp.to_graph(sp.canonicalize(a)) for a in archs[:12]]
    nets_b = [sp.to_graph(sp.canonicalize(a)) for a in archs[8:20]]

    def cells(nets):
        keys, found = [], {}
        for net in nets:
            for name, cell in net.cells.items():
                key = repr((name, cell.ops, cell.adjacency.tobytes()))
                if key not in found:
                    found[key] = len(keys)
                    keys.append((key, cell))
        slots = [np.array([found[repr((n, net.cells[n].ops, net.cells[n].adjacency.tobytes()))]
                           for n in net.skeleton]) for net in nets]
        return [k for k, _ in keys], [c for _, c in keys], slots

    keys_a, cells_a, slots_a = cells(nets_a)
    keys_b, cells_b, slots_b = cells(nets_b)
    vocabulary = sorted({op for c in cells_a + cells_b for op in c.ops} | set(cells_a[0].vocabulary))
    D = op_distance_table(vocabulary)
    packed_a, packed_b = (PackedCells(c, vocabulary, D, metric.epsilon) for c in (cells_a, cells_b))
    cell_d = HOTNN(sp, eta=0.3)._solve_cells(packed_a, packed_b, keys_a, keys_b, D)
    np.testing.assert_array_equal(got, network_distances(cell_d, slots_a, slots_b, eta=0.3))


def test_variant_cost_changes_only_pairs_that_differ_in_a_width_or_resolution_change():
    from nasstages.distances.ops import op_distance
    from nasstages.spaces.tnb101 import MODULE_VOCABULARY

    vocabulary = list(MODULE_VOCABULARY)
    default = op_distance_table(vocabulary)
    assert default.tolist() == [[op_distance(a, b) for b in vocabulary] for a in vocabulary]
    changed = op_distance_table(vocabulary, variant_cost=0.7)
    at = {op: k for k, op in enumerate(vocabulary)}
    assert changed[at["conv_3x3"], at["conv_3x3_widen_stride2"]] == 0.7
    assert changed[at["conv_1x1_widen"], at["conv_1x1_stride2"]] == 0.7
    assert changed[at["conv_1x1_widen"], at["skip_connect"]] == 2.0  # projection vs identity: not a variant
    assert changed[at["conv_3x3"], at["conv_1x1_stride2"]] == 0.1  # another kernel: conv–conv
    assert np.count_nonzero(changed != default) == 2 * (6 + 3)  # pairs among 4 conv_3x3 and 3 conv_1x1 variants
    space = get_space("tnb101_macro")
    archs = [space.sample(np.random.default_rng(k)) for k in range(8)]
    assert HOTNN(space, variant_cost=0.1).params() == HOTNN(space).params()  # default matrices keep their identity
    assert not np.array_equal(HOTNN(space, variant_cost=0.0).pairwise(archs), HOTNN(space).pairwise(archs))
