"""NASBOT's reference GP (kirthevasank/nasbot ``lpemd_sum``): OTMANN's lp and emd stacks against POT
as the reference's ``opt_transport`` computes them, the kernel and marginal likelihood against the
reference's formula written out, an exact gradient, the reference's boxes and median mean, the cached
and the stored stacked sources, and the method's defaults and early failures."""

from __future__ import annotations

import json
import math

import numpy as np
import ot
import pandas as pd
import pytest

from nasstages.distances import make_distance
from nasstages.distances.otmann import NASBOT_STRUCT_COEFFS, OTMANN, OTMANNLpEmd
from nasstages.errors import ConfigError, CorruptStoreError
from nasstages.search.distance_source import CachedDistances, MatrixDistances
from nasstages.spaces import get_space
from nasstages.surrogates.lpemd_gp import (EMD_BETA_BOX, LP_BETA_BOX, NOISE_BOX, SCALE_BOX, WEIGHT_BOX,
                                           LpEmdDistanceGP)


def _reference_opt_transport(layers_a, layers_b, table, mislabel, struct, nu_nas=1.0):
    """``OTMANNDistanceComputer.evaluate_single`` for one coefficient pair, by POT's ``ot.emd`` on
    normalized supplies as ``utils/oper_utils.opt_transport`` does: (lp, emd)."""
    (ops_a, mass_a, paths_a), (ops_b, mass_b, paths_b) = layers_a, layers_b
    struct_cost = np.abs(paths_a[:, None, :] - paths_b[None, :, :]).mean(axis=2)
    cost = np.full((len(mass_a) + 1, len(mass_b) + 1), nu_nas)
    cost[:-1, :-1] = mislabel * table[ops_a[:, None], ops_b[None, :]] + struct * struct_cost
    cost[-1, -1] = 0.0
    supplies, demands = np.append(mass_a, mass_b.sum()), np.append(mass_b, mass_a.sum())
    plan = ot.emd(supplies / supplies.sum(), demands / demands.sum(), cost) * supplies.sum()
    lp = float(np.sum(plan * cost))
    return lp, lp / supplies.sum()


@pytest.mark.parametrize("space_name", ["nb201", "tnb101_macro"])
def test_lpemd_stack_is_the_references_four_solves(space_name):
    space = get_space(space_name)
    rng = np.random.default_rng(3)
    nets = [space.sample(rng) for _ in range(14)]
    otmann = OTMANNLpEmd(space)
    stack = otmann.pairwise(nets[:6], nets)
    assert stack.shape == (8, 6, 14)
    keys = [space.canonicalize(x) for x in nets]
    names = list(otmann._op_index)
    table = np.array([[otmann.mismatch(x, y) for y in names] for x in names])
    for i in range(6):
        for j in range(14):
            for t, struct in enumerate(NASBOT_STRUCT_COEFFS):
                if keys[i] == keys[j]:
                    assert stack[t, i, j] == stack[4 + t, i, j] == 0.0
                    continue
                first, second = sorted((keys[i], keys[j]))
                lp, emd = _reference_opt_transport(otmann.layers(first), otmann.layers(second), table, 1.0, struct)
                assert stack[t, i, j] == pytest.approx(lp, rel=1e-9)
                assert stack[4 + t, i, j] == pytest.approx(emd, rel=1e-9)
    # a larger structural coefficient never lowers a cost; the a×a call is symmetric
    assert np.all(np.diff(stack[:4], axis=0) >= -1e-9)
    square = otmann.pairwise(nets)
    np.testing.assert_array_equal(square[:, :6], stack)
    np.testing.assert_array_equal(square, square.transpose(0, 2, 1))


def _psd_case(n: int, seed: int):
    """Stacks whose kernel is PSD (exp of a Euclidean distance, and of a squared one): no repair."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    euclid = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    lp = np.stack([euclid * 300.0 * (1 + t) for t in range(4)])
    emd = np.stack([euclid * 0.2 * (1 + 0.5 * t) for t in range(4)])
    y = np.sin(2 * x[:, 0]) + x[:, 1] ** 2 + 0.05 * rng.normal(size=n)
    return np.concatenate([lp, emd]), y


def test_kernel_and_likelihood_are_the_references_formula():
    d, y = _psd_case(40, seed=0)
    gp = LpEmdDistanceGP().fit(d, y)
    params = gp.kernel_parameters()
    (a1, a2), beta, beta_bar = params["alphas"], np.array(params["lp_betas"]), np.array(params["emd_betas"])
    kernel = a1 * np.exp(-np.tensordot(beta, d[:4], axes=1)) + a2 * np.exp(-np.tensordot(beta_bar, d[4:] ** 2, axes=1))
    z = (y - y.mean()) / y.std()
    residual = z - np.median(z)  # the reference's mean_func_type: median
    K = kernel + params["noise"] * np.eye(len(y))
    sign, logdet = np.linalg.slogdet(K)
    expected = -0.5 * residual @ np.linalg.solve(K, residual) - 0.5 * logdet - 0.5 * len(y) * math.log(2 * math.pi)
    assert sign > 0 and gp.repairs == 0
    assert gp.marginal_log_likelihood() * len(y) == pytest.approx(expected, rel=1e-9)
    assert gp.hyperparameters()["mean"] == pytest.approx(np.median(z))
    # the posterior mean at the training points is the GP's: m + K_f (K_f + τI)⁻¹ (z − m), in y's units
    post = gp.predict(d)
    np.testing.assert_allclose((post.mean - y.mean()) / y.std(),
                               np.median(z) + kernel @ np.linalg.solve(K, residual), atol=1e-8)


def test_fit_stays_in_the_references_boxes_and_beats_its_start():
    d, y = _psd_case(50, seed=1)
    gp = LpEmdDistanceGP()
    gp.fit(d, y, optimize=False)
    start = gp.marginal_log_likelihood()
    gp.fit(d, y)
    assert gp.marginal_log_likelihood() > start
    params = gp.kernel_parameters()
    assert all(LP_BETA_BOX[0] * (1 - 1e-9) <= b <= LP_BETA_BOX[1] * (1 + 1e-9) for b in params["lp_betas"])
    assert all(EMD_BETA_BOX[0] * (1 - 1e-9) <= b <= EMD_BETA_BOX[1] * (1 + 1e-9) for b in params["emd_betas"])
    assert NOISE_BOX[0] * (1 - 1e-9) <= params["noise"] <= NOISE_BOX[1] * (1 + 1e-9)
    total = sum(params["alphas"])  # α₁ + α₂ and α₁'s share, boxed for the reference's two α boxes
    assert SCALE_BOX[0] * (1 - 1e-9) <= total <= SCALE_BOX[1] * (1 + 1e-9)
    assert WEIGHT_BOX[0] * (1 - 1e-9) <= params["alphas"][0] / total <= WEIGHT_BOX[1] * (1 + 1e-9)


@pytest.mark.parametrize("psd", ["clip", "jitter"])
def test_gradient_is_exact_also_through_a_repair(psd):
    rng = np.random.default_rng(2)
    space = get_space("nb201")
    nets = [space.sample(rng) for _ in range(25)]
    d = OTMANNLpEmd(space).pairwise(nets)
    y = rng.normal(size=25)
    gp = LpEmdDistanceGP(psd=psd).fit(d, y, optimize=False)
    theta = gp._pack(gp.hyper)
    theta[1] = math.log(0.3 / 0.7)  # both groups weigh in (w = 0.3)
    theta[2:6] = np.log(1e-4)
    theta[6:10] = np.log(2.0)  # a kernel that is not PSD on these cells: the repair's derivative counts
    assert gp._repair(gp._base(d, gp._unpack(theta)["lengthscale"]), count=False).repaired
    _, grad = gp._negative_mll(theta)
    for k in range(len(theta) - 1):  # the mean is held at the median
        step = np.zeros_like(theta)
        step[k] = 1e-6
        numeric = (gp._negative_mll(theta + step)[0] - gp._negative_mll(theta - step)[0]) / 2e-6
        assert grad[k] == pytest.approx(numeric, rel=1e-4, abs=1e-7)


def test_stack_of_the_wrong_size_fails():
    d, y = _psd_case(10, seed=0)
    with pytest.raises(ValueError, match="8 distance matrices"):
        LpEmdDistanceGP().fit(d[:6], y)


def test_cached_stacked_source_equals_direct_stacks():
    space = get_space("nb201")
    rng = np.random.default_rng(4)
    nets = [space.sample(rng) for _ in range(30)]
    metric = OTMANNLpEmd(space)
    source = CachedDistances(space, metric)
    ids = source.ids(nets)
    source.observe(ids[:10])
    first = source.block(ids[10:], ids[:10])
    source.observe(ids[10:15])
    grown = source.block(ids[10:], ids[:15])
    direct = metric.pairwise(nets[10:], nets[:15])
    assert grown.shape == (8, 20, 15)
    np.testing.assert_allclose(grown, direct, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(grown[:, :, :10], first)
    np.testing.assert_allclose(source.block(ids[:10], ids[:10]), metric.pairwise(nets[:10]), rtol=1e-12, atol=0)
    # pairs of two unobserved candidates come straight from the metric, stacked too
    np.testing.assert_allclose(source.block(ids[20:], ids[20:]), metric.pairwise(nets[20:]), rtol=1e-12, atol=0)


def test_lpemd_stack_is_otmann_at_each_coefficient():
    """The stack's lp / emd are ``otmann`` unnormalized / normalized at each ν_str; its parameters
    are OTMANN's but ν_str and normalize (struct_coeffs instead)."""
    space = get_space("nb201")
    nets = space.sample_unique(9, np.random.default_rng(7))
    stack = make_distance("otmann_lpemd", space, {"struct_coeffs": [0.3, 0.9]}).pairwise(nets)
    assert stack.shape == (4, 9, 9) and np.count_nonzero(stack[0]) > 60  # distinct cells: a real comparison
    for t, nu in enumerate((0.3, 0.9)):
        np.testing.assert_array_equal(stack[t], OTMANN(space, nu_str=nu, normalize=False).pairwise(nets))
        np.testing.assert_allclose(stack[2 + t], OTMANN(space, nu_str=nu).pairwise(nets), rtol=1e-14, atol=1e-15)
    with pytest.raises(ConfigError, match="no parameter.*nu_str"):
        make_distance("otmann_lpemd", space, {"nu_str": 0.5})
    with pytest.raises(ConfigError, match="non-negative numbers"):
        make_distance("otmann_lpemd", space, {"struct_coeffs": 0.5})


def test_stored_stack_merges_from_tiles_and_reads_as_the_direct_stack(tmp_path):
    from conftest import tiled_matrix
    from nasstages.distances.store import compute_tile, merge_tiles, read_matrix

    space = get_space("tnb101_micro")
    archs = space.sample_unique(11, np.random.default_rng(8))
    metric = make_distance("otmann_lpemd", space, {})
    strings, tiles, _ = tiled_matrix(metric, archs, 3, tmp_path)
    direct = metric.pairwise(archs)
    stored = read_matrix(tmp_path / "m.h5").distances
    assert stored.shape == (8, 11, 11) and stored.dtype == np.float32
    np.testing.assert_allclose(stored, direct, rtol=1e-6)
    source = MatrixDistances(space, str(tmp_path / "m.h5"), "otmann_lpemd")
    ids = source.ids(archs)
    np.testing.assert_allclose(source.block(ids[:7], ids[7:]), direct[:, :7, 7:], rtol=1e-6)
    np.testing.assert_allclose(source.block(ids[7:], ids[:3]), direct[:, 7:, :3], rtol=1e-6)  # read transposed
    assert source.matrix.rows(ids[:2]).shape == (8, 2, 11)
    # a tile of one distance (another metric's shape) is refused by the merge, naming the fix
    one = make_distance("otmann", space, {})
    compute_tile(one, archs, strings, 3, 0, 1, tmp_path / "flat.h5")
    import h5py

    with h5py.File(tmp_path / "flat.h5", "r+") as h5:  # relabelled as if made by this metric
        h5.attrs.update({"metric": metric.name, "params_hash": metric.params_hash()})
    with pytest.raises(CorruptStoreError, match="has shape .* delete it and rerun"):
        merge_tiles(metric, strings, 3, [tiles[0], tmp_path / "flat.h5", *tiles[2:]], tmp_path / "bad.h5", {})
    assert not (tmp_path / "bad.h5").exists()


def test_nasbot_defaults_to_the_reference_kernel_on_stored_and_computed_stacks(nb201_bench, tmp_path):
    from conftest import tiled_matrix
    from nasstages.search import METHODS
    from nasstages.search.runner import SearchJob, run_search

    space = get_space("nb201")
    nasbot = METHODS.get("nasbot")(space, np.random.default_rng(0))
    assert nasbot.kernel == "lpemd" and isinstance(nasbot.gp, LpEmdDistanceGP) and nasbot.matrix_metric == "otmann_lpemd"
    assert nasbot.source.metric.struct_coeffs == (0.1, 0.2, 0.4, 0.8) and nasbot.candidate_set == "evolution"
    earlier = METHODS.get("nasbot_otmann")(space, np.random.default_rng(0))
    assert earlier.kernel == "exp" and type(earlier.gp).__name__ == "DistanceGP" and earlier.matrix_metric == "otmann"
    with pytest.raises(ConfigError, match="lpemd"):
        METHODS.get("hotnas")(space, np.random.default_rng(0), kernel="lpemd")
    with pytest.raises(ConfigError, match="no parameter.*nu_str"):
        METHODS.get("nasbot")(space, np.random.default_rng(0), metric_params={"nu_str": 0.3})
    assert METHODS.get("nasbot")(space, np.random.default_rng(0),
                                 metric_params={"struct_coeffs": [0.5, 1]}).gp.terms == 2
    out = tmp_path / "fly" / "seed0.csv"
    run_search(SearchJob("nb201", "cifar10-valid", "nasbot", 0, 16, params={"n_init": 10}), nb201_bench, out,
               show_progress=False)
    kernel = json.loads(out.with_suffix(".json").read_text())["optimizer"]["gp_kernel"]
    assert len(kernel["lp_betas"]) == len(kernel["emd_betas"]) == 4 and len(kernel["alphas"]) == 2
    # on a stored 8-term matrix over a pool: the whole-pool posterior (candidates: all) reads the stack
    strings, _, _ = tiled_matrix(make_distance("otmann_lpemd", space, {}),
                                 space.sample_unique(60, np.random.default_rng(9)), 1, tmp_path)
    out = tmp_path / "whole" / "seed0.csv"
    run_search(SearchJob("nb201", "cifar10-valid", "nasbot", 0, 20,
                         params={"n_init": 10, "candidates": "all", "distance_matrix": str(tmp_path / "m.h5")}),
               nb201_bench, out, show_progress=False)
    queried = pd.read_csv(out)["arch"]
    assert queried.is_unique and set(queried) <= set(strings)
    assert "gp_kernel" in json.loads(out.with_suffix(".json").read_text())["optimizer"]
    with pytest.raises(ConfigError, match="holds 'otmann_lpemd' distances, not 'otmann'"):
        METHODS.get("nasbot_otmann")(space, np.random.default_rng(0), distance_matrix=str(tmp_path / "m.h5"))


def test_config_reads_the_stacked_matrix_for_nasbot_and_fails_early_without_it():
    from conftest import SHARED
    from nasstages.config import check_config, search_inputs

    def config(metric, **methods):
        return {"results": "results", "seed": 0,
                "benchmarks": {"tnb101_macro": {"mirror": str(SHARED / "benchmarks" / "tnb101"), "official": None}},
                "pools": {"tnb101_macro": {"all": {"size": 3256, "dedup": "arch"}}},
                "distances": {"tnb101_macro": {"pools": ["all"], "tiles": 2, "metrics": {metric: {}}}},
                "search": {"budget": 10, "seeds": 1,
                           "benchmarks": {"tnb101_macro": {"datasets": ["jigsaw"], "methods": list(methods)}},
                           "methods": methods}}

    pooled = {"distance_pool": {"tnb101_macro": "all"}}
    with pytest.raises(ConfigError, match="reads the 'otmann_lpemd' matrix of pool 'all'; add pool 'all' .* and "
                                          "'otmann_lpemd' to distances.tnb101_macro.metrics"):
        check_config(config("otmann", nasbot=pooled))
    check_config(config("otmann_lpemd", nasbot=pooled))
    assert search_inputs(config("otmann_lpemd", nasbot=pooled), "tnb101_macro", "nasbot").matrix.endswith(
        "distances/tnb101_macro/otmann_lpemd/all.h5")
    check_config(config("otmann", nasbot_otmann=pooled))
    with pytest.raises(ConfigError, match="otmann"):
        check_config(config("otmann_lpemd", nasbot_otmann=pooled))
    check_config(config("otmann", nasbot={}))  # on the fly: no matrix needed


def test_direct_fit_is_the_references_derivative_free_search_in_its_boxes():
    """``optimizer='direct'`` (the reference's ml_hp_tune_opt): original DIRECT over the same boxes,
    max(500, 50 × 11) evaluations; the mean stays at the median; other kernels refuse it."""
    from nasstages.search import METHODS

    d, y = _psd_case(40, seed=3)
    gp = LpEmdDistanceGP(optimizer="direct").fit(d, y)
    # DIRECT finishes the iteration that crosses its budget (SciPy's maxfun): here 647 evaluations
    assert 550 <= gp.likelihood_evaluations < 2 * 550
    params = gp.kernel_parameters()
    assert all(LP_BETA_BOX[0] * (1 - 1e-9) <= b <= LP_BETA_BOX[1] * (1 + 1e-9) for b in params["lp_betas"])
    assert NOISE_BOX[0] * (1 - 1e-9) <= params["noise"] <= NOISE_BOX[1] * (1 + 1e-9)
    assert gp.hyperparameters()["mean"] == pytest.approx(np.median((y - y.mean()) / y.std()))
    start = LpEmdDistanceGP().fit(d, y, optimize=False).marginal_log_likelihood()
    assert gp.marginal_log_likelihood() > start  # the search improves on the default point
    with pytest.raises(ValueError, match="optimizer"):
        LpEmdDistanceGP(optimizer="bfgs")
    space = get_space("nb201")
    assert METHODS.get("nasbot")(space, np.random.default_rng(0), gp_optimizer="direct").gp.optimizer == "direct"
    with pytest.raises(ConfigError, match="lpemd kernel's"):
        METHODS.get("nasbot_otmann")(space, np.random.default_rng(0), gp_optimizer="direct")
