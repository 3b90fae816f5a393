"""The predictor evaluation's target: the seeds' mean by default, or the first training seed's
accuracy for both training and scoring (a one-run benchmark's noisier target)."""

from __future__ import annotations

import numpy as np
import pytest

from nasstages.encoders.graphs import graph_tensors
from nasstages.encoders.predictor_quality import EvaluationSettings, evaluate_predictors, summarize
from nasstages.errors import ConfigError
from nasstages.spaces.nb201 import NB201Space

SPACE = NB201Space()


def test_first_seed_accuracies_are_the_stores_first_run(nb201_bench):
    first = nb201_bench.valid_of_seed_all("cifar10-valid", 0)
    assert first.shape == (SPACE.size,) and not np.isnan(first).any()
    runs = nb201_bench._tables["cifar10-valid"].valid_acc
    assert np.array_equal(first, runs[:, 0])
    assert np.allclose(nb201_bench.mean_valid_all("cifar10-valid"), np.nanmean(runs, axis=1))
    assert not np.allclose(first, nb201_bench.mean_valid_all("cifar10-valid"))  # a noisier target, not the mean
    with pytest.raises(ConfigError, match="training seeds 0..2, not 5"):
        nb201_bench.valid_of_seed_all("cifar10-valid", 5)
    with pytest.raises(ConfigError, match="lack training seed 2"):  # NB201's third run exists for some cells only
        nb201_bench.valid_of_seed_all("cifar10-valid", 2)


def test_a_model_trains_and_is_scored_on_its_target(nb201_bench):
    rng = np.random.default_rng(0)
    archs = [SPACE.from_index(int(i)) for i in rng.choice(SPACE.size, 600, replace=False)]
    graphs = graph_tensors(SPACE, archs)
    mean = np.array([nb201_bench.mean_valid(a, "cifar10-valid") for a in archs])
    small = {"encoder": "mlp", "epochs": 20, "min_steps": 100, "hidden": 32}
    models = {"on_mean": small, "on_other": {**small, "target": "first_seed"}}
    tau = {}
    for name, other in (("reversed", -mean), ("noise", rng.permutation(mean))):
        rows = evaluate_predictors(graphs, mean, models, [0.5], [3], split="all", targets={"first_seed": other})
        tau[name] = {row["model"]: row["kendall_tau"] for row in rows}
        assert {row["model"]: row["target"] for row in rows} == {"on_mean": "mean", "on_other": "first_seed"}
    assert tau["reversed"]["on_mean"] > 0.3
    # trained on -mean and scored on -mean: it ranks (a mix-up of training and scoring targets gives tau < 0)
    assert tau["reversed"]["on_other"] > 0.3
    assert abs(tau["noise"]["on_other"]) < 0.1  # trained and scored on noise: nothing to learn
    summary = summarize(rows)
    assert {entry["model"]: entry["target"] for entry in summary} == {"on_mean": "mean", "on_other": "first_seed"}


def test_bad_targets_fail_early():
    with pytest.raises(ConfigError, match="target must be one of"):
        EvaluationSettings.from_params({"models": {"m": {"encoder": "gates", "target": "median"}}})
    with pytest.raises(ConfigError, match="'first_seed' was not provided"):
        evaluate_predictors(graph_tensors(SPACE, [SPACE.from_index(i) for i in range(8)]), np.arange(8.0),
                            {"m": {"encoder": "mlp", "target": "first_seed"}}, [0.5], [0], split="all")
