"""Model-based search: k-DPP sampling, ANASOD's simplex grid, every method through the runner."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from nasstages.search import METHODS
from nasstages.search.anasod import round_to_grid
from nasstages.search.kdpp import kdpp_probabilities, sample_kdpp
from nasstages.search.runner import SearchJob, run_search
from nasstages.spaces import get_space

MODEL_BASED = ["hotnas", "nasbot", "bo_edit", "twnas", "twnas_kdpp", "anasod_rs", "anasod_biased_rs", "anasod_bo",
               "bananas"]


def test_kdpp_sampler_matches_enumeration():
    rng = np.random.default_rng(0)
    B = rng.normal(size=(6, 4))
    L = B @ B.T + 0.1 * np.eye(6)
    exact = kdpp_probabilities(L, 3)
    draws = Counter(tuple(sample_kdpp(L, 3, rng)) for _ in range(20000))
    assert set(draws) <= set(exact)
    for subset, p in exact.items():
        assert abs(draws[subset] / 20000 - p) < 0.012, (subset, p, draws[subset] / 20000)
    with pytest.raises(ValueError, match="rank"):
        sample_kdpp(np.outer(B[:, 0], B[:, 0]), 2, rng)


def test_quality_kdpp_L_is_the_papers_diag_q_covariance_diag_q():
    """TW-NAS §4.2: L = diag(q) Σ diag(q), Σ the posterior covariance, q = exp(μ) (up to a factor);
    the earlier form (the variant twnas_kdpp_corr) used the correlation and standardized means."""
    from nasstages.search.acquisition import QualityKDPP
    from nasstages.surrogates.gp import Posterior

    rng = np.random.default_rng(3)
    B = rng.normal(size=(6, 6))
    cov = B @ B.T / 6 + 0.05 * np.eye(6)
    mean = 90 + rng.normal(size=6)
    paper = QualityKDPP().L(Posterior(mean=mean, var=np.diag(cov), covariance=cov))
    q = np.exp(mean - mean.max())
    ridge = 1e-9 * np.max(q**2 * np.diag(cov))
    np.testing.assert_allclose(paper, np.diag(q) @ cov @ np.diag(q) + ridge * np.eye(6), rtol=1e-12)
    assert np.count_nonzero(np.abs(paper - np.diag(np.diag(paper))) > 1e-6) > 0  # not the reference's diagonal L
    # uncertainty counts: a candidate with 4x the variance (same correlations) gets 2x its row
    scale = np.ones(6)
    scale[2] = 2.0
    wider = QualityKDPP().L(Posterior(mean=mean, var=np.diag(cov) * scale**2, covariance=cov * np.outer(scale, scale)))
    np.testing.assert_allclose(wider[2, [0, 1, 3]], 2 * paper[2, [0, 1, 3]], rtol=1e-9)
    ours = QualityKDPP(kernel="correlation", quality="standardized").L(Posterior(mean=mean, var=np.diag(cov), covariance=cov))
    sd = np.sqrt(np.diag(cov))
    z = np.exp((mean - mean.mean()) / mean.std())
    np.testing.assert_allclose(ours, np.diag(z) @ (cov / np.outer(sd, sd)) @ np.diag(z) + 1e-9 * np.eye(6), rtol=1e-12)
    with pytest.raises(Exception, match="k-DPP kernel"):
        QualityKDPP(kernel="diagonal")


def test_anasod_rounding_stays_on_the_simplex_grid():
    rng = np.random.default_rng(1)
    for _ in range(2000):
        p = rng.dirichlet(np.full(5, 0.5))
        counts = round_to_grid(p, 6)
        assert counts.sum() == 6 and counts.min() >= 0
        assert np.all(np.abs(counts - p * 6) < 1 + 1e-9)
        assert np.array_equal(round_to_grid(counts / 6, 6), counts)  # grid points are fixed points
    space = get_space("nb201")
    for _ in range(200):
        counts = round_to_grid(rng.dirichlet(np.ones(5)), 6)
        arch = space.sample_with_operation_counts(counts, rng)
        assert np.array_equal(space.operation_counts(arch), counts)
    with pytest.raises(ValueError, match="summing to 6"):
        space.sample_with_operation_counts(np.array([1, 1, 1, 1, 1]), rng)


@pytest.mark.parametrize("method", MODEL_BASED)
def test_method_runs_and_logs_its_surrogate(method, nb201_bench, tmp_path):
    out = tmp_path / "seed0.csv"
    run_search(SearchJob("nb201", "cifar100", method, 0, 24), nb201_bench, out, show_progress=False)
    log = pd.read_csv(out)
    assert len(log) == 24 and list(log["step"]) == list(range(1, 25))
    if method not in ("anasod_rs", "anasod_biased_rs"):
        modelled = log.iloc[12:]
        assert modelled["predicted_acc"].notna().all() and (modelled["surrogate_s"] > 0).all()
        assert modelled["predicted_acc"].between(0, 100).all()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["config"]["method"] == method
    assert method in METHODS


def test_nasbot_climbs_ei_with_its_papers_evolutionary_optimiser(nb201_bench, tmp_path):
    """NASBOT's reference settings: clip(25 sqrt t, 50, 500) acquisition evaluations a step, clip(3 sqrt
    budget, 5, 100) mutants a generation, parents ~ exp((a - mean) / (2 std)); its proposal is the
    best-EI mutant, never an evaluated architecture."""
    from nasstages.search.evolutionary_acquisition import (evaluation_budget, evolve, mutants_per_generation,
                                                           parent_probabilities)
    from nasstages.search.query_rule import QueryRule

    assert [evaluation_budget(t) for t in (1, 4, 16, 100, 400, 1000)] == [50, 50, 100, 250, 500, 500]
    assert [mutants_per_generation(b) for b in (1, 50, 500, 5000)] == [5, 21, 67, 100]
    p = parent_probabilities(np.array([0.0, 1.0, 2.0]))
    std = np.array([0.0, 1.0, 2.0]).std()
    np.testing.assert_allclose(p, np.exp((np.arange(3) - 1) / (2 * std)) / np.exp((np.arange(3) - 1) / (2 * std)).sum())
    np.testing.assert_allclose(parent_probabilities(np.ones(4)), 0.25)
    # on a known score (number of conv ops) the optimiser finds a better architecture than its population
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    population = [space.sample(rng) for _ in range(10)]
    convs = lambda archs: np.array([sum("conv" in op for op in a) for a in archs], dtype=float)
    rule = QueryRule("string", space)
    picks, values, spent = evolve(space, population, convs(population), convs, 2, 100, rng, rule)
    assert spent == 250 and len(picks) == 2 and values[0] >= values[1]
    assert values[0] > convs(population).max() or values[0] == 6
    assert not {space.to_string(a) for a in picks} & {space.to_string(a) for a in population}
    out = tmp_path / "seed0.csv"
    run_search(SearchJob("nb201", "cifar10-valid", "nasbot", 0, 20, params={"n_init": 10}), nb201_bench, out,
               show_progress=False)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["optimizer"]["acquisition_evaluations"] == sum(evaluation_budget(t) for t in range(11, 21))
    assert pd.read_csv(out)["arch"].is_unique


def _final_accuracy(args):
    """Incumbent mean accuracy after the budget, for one (method, seed) run in a worker process."""
    store, method, seed, budget, folder = args
    from nasstages.benchmarks import load_benchmark

    out = f"{folder}/{method}/seed{seed}.csv"
    run_search(SearchJob("nb201", "cifar10-valid", method, seed, budget), load_benchmark("nb201", store), out,
               show_progress=False)
    return method, float(pd.read_csv(out)["incumbent_mean_acc"].iloc[-1])


@pytest.mark.slow
def test_every_method_beats_random_search_on_average(nb201_store, tmp_path, monkeypatch):
    """A real but loose check: mean over 10 seeds after 100 queries on cifar10-valid."""
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        monkeypatch.setenv(variable, "1")  # two single-threaded workers: oversubscribed pools spin for minutes
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(str(nb201_store), m, s, 100, str(tmp_path)) for m in ["rs", *MODEL_BASED] for s in range(10)]
    # spawn, not fork: this process already runs numba and torch thread pools, which do not survive a fork
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_final_accuracy, jobs))
    finals = {m: np.mean([acc for method, acc in results if method == m]) for m in ["rs", *MODEL_BASED]}
    losers = {m: round(v, 3) for m, v in finals.items() if m != "rs" and v <= finals["rs"]}
    assert not losers, f"random search {finals['rs']:.3f} beats {losers}"


def test_bo_on_a_precomputed_distance_matrix_and_thompson_sampling(nb201_bench, tmp_path):
    from nasstages.distances import make_distance
    from nasstages.distances.store import compute_tile, merge_tiles, read_matrix
    from nasstages.pools import sample_pool

    pool = sample_pool("nb201", 60, 0, "tiny")
    strings = [pool.space.to_string(a) for a in pool.archs]
    distance = make_distance("tw", pool.space)
    compute_tile(distance, pool.archs, strings, 1, 0, 0, tmp_path / "tile.h5")
    merge_tiles(distance, strings, 1, [tmp_path / "tile.h5"], tmp_path / "tw.h5", {})
    matrix = read_matrix(tmp_path / "tw.h5").distances
    assert matrix.shape == (60, 60)
    from nasstages.search.distance_source import MatrixDistances

    rows = MatrixDistances(pool.space, str(tmp_path / "tw.h5"), "tw")  # lazy row reads, either orientation
    a, b = np.array([3, 17, 42, 5]), np.array([8, 1, 59, 30, 11, 2])
    np.testing.assert_array_equal(rows.block(a, b), matrix[np.ix_(a, b)])
    np.testing.assert_array_equal(rows.block(b, a), matrix[np.ix_(b, a)])
    out = tmp_path / "seed0.csv"
    # TW-NAS with one length-scale reads a stored matrix (its per-term default needs each term: below)
    job = SearchJob("nb201", "cifar10-valid", "twnas_shared", 0, 30,
                    params={"distance_matrix": str(tmp_path / "tw.h5"), "acquisition": "ts", "n_init": 5,
                            "candidates": "all"})
    run_search(job, nb201_bench, out, show_progress=False)
    log = pd.read_csv(out)
    assert set(log["arch"]) <= set(strings) and log["arch"].is_unique
    assert log["predicted_acc"].iloc[5:].notna().all()
    wrong = SearchJob("nb201", "cifar10-valid", "hotnas", 0, 10, params={"distance_matrix": str(tmp_path / "tw.h5")})
    from nasstages.errors import ConfigError

    # Algorithm 1's mutants mostly fall outside a 60-cell pool: a clear error, not an empty round
    narrow = SearchJob("nb201", "cifar10-valid", "twnas_shared", 0, 30,
                       params={"distance_matrix": str(tmp_path / "tw.h5"), "n_init": 5})
    with pytest.raises(ConfigError, match="candidates: all"):
        run_search(narrow, nb201_bench, tmp_path / "narrow.csv", show_progress=False)
    per_term = SearchJob("nb201", "cifar10-valid", "twnas", 0, 30, params={"distance_matrix": str(tmp_path / "tw.h5")})
    with pytest.raises(ConfigError, match="lengthscales: shared"):
        run_search(per_term, nb201_bench, tmp_path / "per_term.csv", show_progress=False)

    with pytest.raises(ConfigError, match="holds 'tw' distances"):
        run_search(wrong, nb201_bench, tmp_path / "x.csv", show_progress=False)


@pytest.mark.parametrize("metric", ["hotnn", "edit"])
def test_cached_distances_equal_the_metric_and_solve_each_pair_once(metric):
    from nasstages.distances import make_distance
    from nasstages.search.distance_source import CachedDistances

    space = get_space("nb201")
    rng = np.random.default_rng(0)
    direct = make_distance(metric, space)
    source = CachedDistances(space, make_distance(metric, space))
    archs = [space.sample(rng) for _ in range(200)]
    observed: list[int] = []
    for _ in range(6):  # BO rounds: candidates against the observed, then some get observed
        candidates = source.ids([archs[k] for k in rng.choice(200, 30, replace=False)])
        if observed:
            cols = np.array(observed)
            expected = direct.pairwise([source.arch(i) for i in candidates], [source.arch(j) for j in cols])
            np.testing.assert_allclose(source.block(candidates, cols), expected, rtol=0, atol=1e-12)
            np.testing.assert_allclose(source.block(cols, cols), direct.pairwise([source.arch(j) for j in cols]),
                                       rtol=0, atol=1e-12)
        joint = source.block(candidates, candidates)
        np.testing.assert_allclose(joint, direct.pairwise([source.arch(i) for i in candidates]), rtol=0, atol=1e-12)
        source.observe(candidates[:3])
        observed += [int(i) for i in candidates[:3] if int(i) not in observed]
    solved = source.solved
    source.block(source.ids(archs[:50]), np.array(observed))
    again = source.solved
    source.block(source.ids(archs[:50]), np.array(observed))
    assert source.solved == again >= solved  # a block asked twice solves nothing the second time


def test_partial_rows_are_solved_in_few_calls_without_much_rework():
    from nasstages.search.distance_source import CALL_COST_PAIRS, _merge_groups

    rng = np.random.default_rng(3)
    # rows seen k rounds ago lack the k newest observations (a suffix of the columns), as in a BO run
    lags = rng.integers(1, 40, size=300)
    missing = np.arange(60)[None, :] >= 60 - lags[:, None]
    groups: dict[bytes, list[int]] = {}
    for r in range(len(missing)):
        groups.setdefault(missing[r].tobytes(), []).append(r)
    merged = _merge_groups(missing, list(groups.values()))
    covered = np.zeros_like(missing)
    solved = 0
    for rows, columns in merged:
        covered[np.ix_(rows, np.flatnonzero(columns))] = True
        solved += len(rows) * int(columns.sum())
    assert (covered | ~missing).all()  # every missing pair is solved
    assert sorted(r for rows, _ in merged for r in rows) == list(range(len(missing)))
    assert len(merged) < len(groups)  # fewer metric calls than distinct patterns
    assert solved - int(missing.sum()) <= CALL_COST_PAIRS * len(merged)  # each merged call re-solves little


def test_bananas_defaults_are_the_reference_network_and_loss():
    """naszilla's BANANAS: 10 ReLU layers x 20 units, MAE, 150 epochs, batches of 32, 5 members,
    10 proposals a round from mutants of the best architecture; bananas_fast keeps our setting."""
    from nasstages.search import make_optimizer
    from nasstages.surrogates.ensemble import MLPEnsemble

    space = get_space("nb201")
    reference = make_optimizer("bananas", space, np.random.default_rng(0), {})
    assert (reference.members, reference.epochs, reference.batch_size, reference.top_k) == (5, 150, 10, 1)
    assert reference.network == {"hidden": 20, "layers": 10, "loss": "mae", "standardize": False, "init": "glorot",
                                 "lr": 0.01, "batch_size": 32}
    fast = make_optimizer("bananas_fast", space, np.random.default_rng(0), {})
    assert (fast.epochs, fast.batch_size, fast.network["layers"], fast.network["loss"]) == (200, 1, 3, "mse")
    ensemble = MLPEnsemble(members=2, hidden=20, layers=10, epochs=1, loss="mae", batch_size=32, init="glorot")
    ensemble.fit(np.ones((40, 6), dtype=np.float32), np.arange(40.0))
    assert [tuple(w.shape) for w in ensemble.weights] == [(2, 6, 20)] + [(2, 20, 20)] * 9 + [(2, 20, 1)]
    assert all(float(b.abs().max()) < 0.1 for b in ensemble.biases)  # glorot: zero biases, one epoch of steps
    # the loss: on one input with targets 0,0,0,0,100 MAE's optimum is the median (0), MSE's the mean (20)
    X, y = np.ones((5, 3), dtype=np.float32), np.array([0.0, 0, 0, 0, 100])
    mae = MLPEnsemble(members=2, hidden=8, layers=2, epochs=400, lr=0.05, loss="mae", standardize=False).fit(X, y)
    mse = MLPEnsemble(members=2, hidden=8, layers=2, epochs=400, lr=0.05, loss="mse", standardize=False).fit(X, y)
    assert abs(mae.predict(X[:1])[0][0]) < 2.0 and abs(mse.predict(X[:1])[0][0] - 20.0) < 2.0


def test_arch2vec_bo_defaults_are_the_reference_scripts(tmp_path):
    """arch2vec's dngo_search_NB201_8x8.py: 16 initial cells, one proposal a round, DNGO 128 units x
    100 epochs in batches of 10 on un-normalized fractions, EI against 100%; the _fast variant
    keeps our earlier setting."""
    from nasstages.search import METHODS
    from nasstages.surrogates.dngo import DNGO

    reference, fast = METHODS.get("arch2vec_bo"), METHODS.get("arch2vec_bo_fast")
    import inspect

    defaults = {k: p.default for k, p in inspect.signature(reference).parameters.items()}
    assert {k: defaults[k] for k in ("n_init", "batch_size", "hidden", "epochs", "train_batch", "normalize_output",
                                     "ei_against")} == {"n_init": 16, "batch_size": 1, "hidden": 128, "epochs": 100,
                                                        "train_batch": 10, "normalize_output": False,
                                                        "ei_against": "bound"}
    fast_defaults = {k: p.default for k, p in inspect.signature(fast).parameters.items()}
    assert (fast_defaults["batch_size"], fast_defaults["epochs"], fast_defaults["ei_against"]) == (5, 500, "incumbent")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4))
    y = 0.9 + 0.01 * x[:, 0]
    raw = DNGO(hidden=16, epochs=50, batch_size=10, normalize_output=False).fit(x, y)
    assert (raw.y_mean, raw.y_std) == (0.0, 1.0)  # fractions fitted as they are
    mean, _ = raw.predict(x)
    assert np.corrcoef(mean, y)[0, 1] > 0.9
