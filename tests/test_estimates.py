"""The estimate stage end to end on the NB201 mirror: proxies of a pool in tiles, merged,
deterministic by seed, diagnosed against the benchmark and reported."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from test_workflow import _jobs_run, _snakemake
from nasstages.evaluators.estimates import minibatch, read_estimates, score_archs
from nasstages.evaluators.model import count_parameters
from nasstages.evaluators.nb201_network import NB201Network
from nasstages.pools import read_pool

pytestmark = pytest.mark.slow


def test_estimate_stage_scores_pools_and_diagnoses_estimators(tmp_path, nb201_mirror):
    config = {
        "results": "results", "seed": 3,
        "benchmarks": {"nb201": {"mirror": str(nb201_mirror), "official": None}},
        "pools": {"nb201": {"p": {"size": 30, "dedup": "iso"}}},
        "estimates": {"nb201": {"pools": ["p"], "tiles": 2, "proxies": ["params", "synflow", "naswot"],
                                "batch_size": 16, "device": "cpu", "seeds": 2,
                                "diagnose": {"benchmark": "nb201", "datasets": ["cifar10-valid"]}}},
        "predictors": {"nb201": {"datasets": ["cifar10-valid"], "proportions": [0.002], "seeds": 2,
                                 "models": {"tagates": {"encoder": "tagates", "epochs": 2, "min_steps": 5, "hidden": 16}}}},
        "search": {"budget": 6, "seeds": 1, "benchmarks": {"nb201": ["cifar10-valid"]},
                   "methods": {"rs": {}, "bananas_zs": {"method": "bananas", "n_init": 3, "members": 2, "epochs": 5,
                                                        "pool_mutations": 12, "zs_prefilter":
                                                            {"proxy": "params", "keep": 0.25, "pool": "p"}}}},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    first = _snakemake(tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert _jobs_run(first)["estimate_tile"] == 6 and _jobs_run(first)["estimate_merge"] == 3
    results = tmp_path / "results"
    pool = read_pool(results / "pools/nb201/p.h5")
    archs, params, attrs = read_estimates(results / "estimates/nb201/params/p.h5")
    assert archs == [pool.space.to_string(a) for a in pool.archs] and attrs["data"] == "none (data-free)"
    assert params.tolist() == [count_parameters(NB201Network(a)) for a in pool.archs]
    # deterministic by seed: the merged naswot scores equal a fresh in-process computation
    _, naswot, attrs = read_estimates(results / "estimates/nb201/naswot/p.h5")
    assert attrs["data"].startswith("synthetic")
    from nasstages.cli import _job_seed

    x, y, _ = minibatch(16, _job_seed(3, "estimate-batch"))
    assert naswot.shape == (30, 2)  # two seeds (initialization and minibatch); params, deterministic, one
    assert np.allclose(score_archs("nb201", pool.archs[:3], "naswot", x, y, global_seed=3), naswot[:3, 0])
    x1, y1, _ = minibatch(16, _job_seed(3, "estimate-batch", 1))
    assert np.allclose(score_archs("nb201", pool.archs[:3], "naswot", x1, y1, global_seed=3, replicate=1),
                       naswot[:3, 1])
    diagnosis = json.loads((results / "estimates/nb201/diagnosis_nb201_cifar10-valid_p.json").read_text())
    names = [row["estimator"] for row in diagnosis["rows"]]
    assert names == ["params", "synflow", "naswot", "low fidelity (cifar10_val_acc_12ep)"]
    assert all(-1 <= row["kendall_tau"] <= 1 and row["n"] == 30 for row in diagnosis["rows"])
    by_name = {row["estimator"]: row for row in diagnosis["rows"]}
    assert by_name["naswot"]["seeds"] == 2 and by_name["naswot"]["kendall_tau_std"] >= 0
    assert by_name["params"]["seeds"] == 1 and "kendall_tau_std" not in by_name["params"]
    table = (results / "report/tables/estimators_nb201_cifar10-valid_p.md").read_text()
    assert "| params |" in table and "low fidelity" in table
    assert (results / "report/figures/estimators_nb201_cifar10-valid_p.png").stat().st_size > 0
    params_row = diagnosis["rows"][0]  # the rankings behind the figure: a permutation of 1/n .. 1
    assert sorted(params_row["true_rank"]) == pytest.approx([k / 30 for k in range(1, 31)], abs=1e-5)
    # predictors join the diagnosis table (on the test half, mean over seeds, τ's std over seeds)
    assert "| tagates @ 0.2% (16 archs) | 7812 |" in table
    assert (results / "report/figures/predictors_nb201_cifar10-valid.png").stat().st_size > 0
    # the prefiltered BANANAS variant read the pool's stored params scores, beside plain rs
    search = results / "search/nb201/cifar10-valid"
    meta = json.loads((search / "bananas_zs/seed0.json").read_text())
    assert meta["config"]["params"]["zs_prefilter"]["scores"].endswith("estimates/nb201/params/p.h5")
    assert len((search / "bananas_zs/seed0.csv").read_text().splitlines()) == 7
    assert "bananas_zs" in (results / "report/tables/nb201_final.md").read_text()
    again = _snakemake(tmp_path)
    assert again.returncode == 0 and "estimate_tile" not in _jobs_run(again)
