"""Search runner and methods: determinism, budget, incumbents, RS/RE behaviour, resume."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nasstages.errors import ConfigError, UnknownNameError
from nasstages.search import make_optimizer
from nasstages.search.evolution import RegularizedEvolution
from nasstages.search.runner import SearchJob, run_search


def _run(bench, tmp_path, name="run", **kwargs) -> pd.DataFrame:
    job = SearchJob(**{"benchmark": "nb201", "dataset": "cifar10-valid", "method": "re", "seed": 0,
                       "budget": 120, **kwargs})
    out = tmp_path / name / "seed.csv"
    run_search(job, bench, out, show_progress=False)
    return pd.read_csv(out)


def test_same_seed_same_run_other_seed_other_run(nb201_bench, tmp_path):
    for method in ("rs", "re"):
        a = _run(nb201_bench, tmp_path, f"{method}a", method=method)
        b = _run(nb201_bench, tmp_path, f"{method}b", method=method)
        c = _run(nb201_bench, tmp_path, f"{method}c", method=method, seed=1)
        pd.testing.assert_frame_equal(a.drop(columns="elapsed_s"), b.drop(columns="elapsed_s"))
        assert list(a["arch"]) != list(c["arch"])
    g = _run(nb201_bench, tmp_path, "global", method="rs", global_seed=1)
    assert list(g["arch"]) != list(a["arch"])


def test_log_columns_are_consistent(nb201_bench, tmp_path):
    log = _run(nb201_bench, tmp_path, method="re", dataset="cifar100")
    assert list(log["step"]) == list(range(1, 121))
    best_so_far = log["observed_acc"].cummax()
    np.testing.assert_allclose(log["incumbent_observed_acc"], best_so_far)
    for row in log.itertuples():
        arch = nb201_bench.space.from_string(row.arch)
        assert row.mean_acc == pytest.approx(nb201_bench.mean_valid(arch, "cifar100"))
        incumbent = nb201_bench.space.from_string(row.incumbent_arch)
        assert row.incumbent_mean_acc == pytest.approx(nb201_bench.mean_valid(incumbent, "cifar100"))
    costs = [nb201_bench.query(nb201_bench.space.from_string(a), "cifar100", np.random.default_rng(0)).cost_s
             for a in log["arch"]]
    np.testing.assert_allclose(log["sim_time_s"], np.cumsum(costs), rtol=1e-6)
    meta = json.loads((tmp_path / "run" / "seed.json").read_text())
    assert meta["config"]["method"] == "re" and meta["config"]["budget"] == 120
    assert meta["optimum"] == pytest.approx(nb201_bench.optimum("cifar100"))
    assert {"numpy", "h5py", "python"} <= set(meta["versions"]) and "git_commit" in meta
    assert meta["config"]["benchmark_content_sha256"] == nb201_bench.content_sha256


def test_random_search_never_repeats(nb201_bench, tmp_path):
    log = _run(nb201_bench, tmp_path, method="rs", budget=600)
    assert log["arch"].is_unique


def test_regularized_evolution_mutates_population_members(nb201_bench, tmp_path):
    log = _run(nb201_bench, tmp_path, method="re", budget=150, params={"population_size": 20, "sample_size": 5})
    space = nb201_bench.space
    archs = [space.from_string(a) for a in log["arch"]]
    for step in range(20, 150):
        population = archs[step - 20 : step]
        assert any(sum(x != y for x, y in zip(archs[step], p)) == 1 for p in population), step
    # Evolution concentrates on good cells: its later queries lie above the space's 90th percentile.
    assert log["mean_acc"][75:].mean() > np.percentile(nb201_bench.mean_valid_all("cifar10-valid"), 90)


def test_aging_removes_the_oldest(nb201_bench):
    space = nb201_bench.space
    rng = np.random.default_rng(0)
    evo = RegularizedEvolution(space, rng, population_size=3, sample_size=2)
    archs = evo.ask(5)
    evals = [nb201_bench.query(a, "cifar10-valid", rng) for a in archs]
    evo.tell(archs, evals)
    kept = [space.to_string(a) for a, _ in evo._population]
    assert kept == [space.to_string(a) for a in archs[2:]]


def test_interrupted_run_resumes_identically(nb201_bench, tmp_path):
    job = SearchJob(benchmark="nb201", dataset="ImageNet16-120", method="re", seed=3, budget=90,
                    params={"population_size": 10, "sample_size": 3})
    whole = tmp_path / "whole" / "seed3.csv"
    run_search(job, nb201_bench, whole, show_progress=False)
    cut = tmp_path / "cut" / "seed3.csv"
    with pytest.raises(KeyboardInterrupt):
        run_search(job, nb201_bench, cut, show_progress=False, checkpoint_every=20, stop_after=47)
    assert not cut.exists() and cut.with_suffix(".ckpt.json").exists()
    run_search(job, nb201_bench, cut, show_progress=False, checkpoint_every=20)
    assert not cut.with_suffix(".ckpt.json").exists()
    a, b = pd.read_csv(whole), pd.read_csv(cut)
    pd.testing.assert_frame_equal(a.drop(columns="elapsed_s"), b.drop(columns="elapsed_s"))


def test_checkpoint_of_another_config_is_not_used(nb201_bench, tmp_path):
    out = tmp_path / "x" / "seed0.csv"
    job = SearchJob(benchmark="nb201", dataset="cifar10-valid", method="rs", seed=0, budget=40)
    with pytest.raises(KeyboardInterrupt):
        run_search(job, nb201_bench, out, show_progress=False, stop_after=10)
    other = SearchJob(benchmark="nb201", dataset="cifar10-valid", method="rs", seed=0, budget=30)
    run_search(other, nb201_bench, out, show_progress=False)
    fresh = tmp_path / "y" / "seed0.csv"
    run_search(other, nb201_bench, fresh, show_progress=False)
    pd.testing.assert_frame_equal(pd.read_csv(out).drop(columns="elapsed_s"),
                                  pd.read_csv(fresh).drop(columns="elapsed_s"))


def test_bad_method_and_params_fail_clearly(nb201_bench):
    rng = np.random.default_rng(0)
    with pytest.raises(UnknownNameError, match="choose one of: anasod_biased_rs, .*, re, rs, twnas"):
        make_optimizer("bananas9", nb201_bench.space, rng, {})
    with pytest.raises(ConfigError, match="accepts: population_size, sample_size"):
        make_optimizer("re", nb201_bench.space, rng, {"tournament": 5})
    with pytest.raises(ConfigError, match="sample_size <= population_size"):
        make_optimizer("re", nb201_bench.space, rng, {"population_size": 5, "sample_size": 10})


def test_a_checkpoint_or_result_is_reused_only_with_the_same_input_content(nb201_bench, tmp_path, caplog):
    """A BO job killed, its matrix rebuilt with other metric parameters at the same path, the job
    rerun: it must start over (its identity covers the matrix's content, not its path)."""
    import logging

    from nasstages.distances import make_distance
    from nasstages.distances.store import compute_tile, merge_tiles
    from nasstages.pools import sample_pool

    pool = sample_pool("nb201", 60, 0, "tiny")
    strings = [pool.space.to_string(a) for a in pool.archs]
    matrix = tmp_path / "hotnn.h5"

    def build(eta: float) -> None:
        distance = make_distance("hotnn", pool.space, {"eta": eta})
        compute_tile(distance, pool.archs, strings, 1, 0, 0, tmp_path / "tile.h5")
        merge_tiles(distance, strings, 1, [tmp_path / "tile.h5"], matrix, {})

    build(0.2)
    job = SearchJob("nb201", "cifar10-valid", "hotnas", 0, 30,
                    params={"distance_matrix": str(matrix), "candidates": "all", "n_init": 5})
    out = tmp_path / "run" / "seed0.csv"
    with pytest.raises(KeyboardInterrupt):
        run_search(job, nb201_bench, out, show_progress=False, stop_after=12)
    build(0.9)  # same path, other content
    with caplog.at_level(logging.INFO, logger="nasstages.search.runner"):
        run_search(job, nb201_bench, out, show_progress=False)
    assert "ignoring checkpoint" in caplog.text and "resuming" not in caplog.text
    fresh = tmp_path / "fresh" / "seed0.csv"
    run_search(job, nb201_bench, fresh, show_progress=False)
    pd.testing.assert_frame_equal(pd.read_csv(out).drop(columns=["elapsed_s", "surrogate_s"]),
                                  pd.read_csv(fresh).drop(columns=["elapsed_s", "surrogate_s"]))
    caplog.clear()
    build(0.2)  # the finished result is of eta 0.9: not kept for the eta-0.2 matrix
    with caplog.at_level(logging.INFO, logger="nasstages.search.runner"):
        run_search(job, nb201_bench, out, show_progress=False)
    assert "recomputing" in caplog.text and "job config" in caplog.text


def test_a_matrix_merged_again_from_other_tiles_is_the_same_input(tmp_path):
    """Changing `tiles` rebuilds the matrix file (other provenance, other bytes) with the same
    distances: the searches reading it keep their identity, so their finished results are kept."""
    from nasstages.distances import make_distance
    from nasstages.distances.store import compute_tile, merge_tiles, tile_pairs
    from nasstages.io import sha256_file
    from nasstages.pools import sample_pool
    from nasstages.search.runner import input_checksums

    pool = sample_pool("nb201", 30, 0, "tiny")
    strings = [pool.space.to_string(a) for a in pool.archs]
    distance = make_distance("edit", pool.space)
    paths = {}
    for tiles in (1, 3):
        tile_files = []
        for i, j in tile_pairs(tiles):
            tile_files.append(tmp_path / f"t{tiles}_{i}{j}.h5")
            compute_tile(distance, pool.archs, strings, tiles, i, j, tile_files[-1])
        paths[tiles] = tmp_path / f"m{tiles}.h5"
        merge_tiles(distance, strings, tiles, tile_files, paths[tiles], {"tiles": tiles})
    assert sha256_file(paths[1]) != sha256_file(paths[3])
    assert (input_checksums({"distance_matrix": str(paths[1])})
            == input_checksums({"distance_matrix": str(paths[3])}))
