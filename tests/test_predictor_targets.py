"""The predictor evaluation's protocol per model: the target (the seeds' mean by default, or the first
training seed's accuracy for both training and scoring, a one-run benchmark's noisier target) and the
training subsets (a new draw per seed by default, or fixed subsets shared by every seed, as the
reference's)."""

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


def _fits(model: dict, proportions=(0.05, 0.2), seeds=(3, 4)):
    archs = [SPACE.from_index(i) for i in range(0, SPACE.size, 97)]  # 162 cells spread over the space
    graphs = graph_tensors(SPACE, archs)
    accuracy = np.asarray([float(i % 13) for i in range(len(archs))])
    return evaluate_predictors(graphs, accuracy, {"m": model}, list(proportions), list(seeds), split="half",
                               split_seed=11)


def test_fixed_subsets_train_every_seed_on_the_same_nested_cells(monkeypatch):
    from nasstages.encoders import predictor_quality

    seen = []
    original = predictor_quality.training_and_test_cells

    def recording(*args, **kwargs):
        train, test = original(*args, **kwargs)
        seen.append((args[1], tuple(train), tuple(test)))
        return train, test

    monkeypatch.setattr(predictor_quality, "training_and_test_cells", recording)
    small = {"encoder": "mlp", "epochs": 2, "min_steps": 2, "hidden": 8}
    rows = _fits({**small, "subset": "fixed", "subsets": 3})
    assert len(rows) == 2 * 3 * 2 and {row["draw"] for row in rows} == {0, 1, 2}
    by_draw = {}
    for row, (proportion, train, test) in zip(rows, seen):
        assert row["proportion"] == proportion and row["train_archs"] == len(train)
        by_draw.setdefault((row["draw"], proportion), set()).add(train)
    # every seed of a subset trains on the same cells ...
    assert all(len(trains) == 1 for trains in by_draw.values())
    cells = {key: next(iter(trains)) for key, trains in by_draw.items()}
    # ... a smaller proportion's cells begin the larger one's, and the subsets differ
    assert all(cells[(d, 0.2)][: len(cells[(d, 0.05)])] == cells[(d, 0.05)] for d in range(3))
    assert len({cells[(d, 0.2)] for d in range(3)}) == 3
    tests = {test for _, _, test in seen}
    assert len(tests) == 1 and not set(next(iter(tests))) & set().union(*cells.values())  # one test half, untouched

    seen.clear()
    rows = _fits(small)  # per-seed draws: each seed its own cells, not nested
    trains = {(row["seed"], row["proportion"]): train for row, (_, train, _) in zip(rows, seen)}
    assert trains[(3, 0.2)] != trains[(4, 0.2)] and {row["draw"] for row in rows} == {None}
    assert trains[(3, 0.2)][: len(trains[(3, 0.05)])] != trains[(3, 0.05)]


def test_fixed_subset_summary_gives_the_spread_of_a_subsets_seed_mean():
    from nasstages.encoders.predictor_quality import IDENTITY

    rows = []
    for draw, base in enumerate((0.2, 0.5, 0.6)):
        for seed, noise in ((0, -0.05), (1, 0.05)):
            rows.append({"model": "m", "target": "mean", "subset": "fixed", "draw": draw, "proportion": 0.01,
                         "seed": seed, "train_archs": 8, "test_archs": 100, "fit_seconds": 1.0,
                         "kendall_tau": base + noise})
    (entry,) = summarize(rows)
    assert set(IDENTITY) <= set(rows[0])
    assert entry["subsets"] == 3 and entry["seeds"] == 2 and entry["fits"] == 6
    assert entry["kendall_tau"] == pytest.approx(np.mean([0.2, 0.5, 0.6]))
    assert entry["kendall_tau_subset_std"] == pytest.approx(np.std([0.2, 0.5, 0.6], ddof=1))
    assert entry["kendall_tau_std"] == pytest.approx(np.std([r["kendall_tau"] for r in rows]))


def test_model_proportions_and_subsets_are_checked_early():
    base = {"proportions": [0.01, 0.1], "seeds": 2}
    settings = EvaluationSettings.from_params({**base, "models": {
        "a": {"encoder": "gates"}, "b": {"encoder": "gates", "subset": "fixed", "proportions": [0.01]}}})
    assert settings.fits() == 2 * 2 + 1 * 5 * 2  # b: one proportion, five subsets by default
    for model, message in (({"subset": "fixed", "subsets": 1}, "integer >= 2"),
                           ({"subsets": 3}, "set 'subset: fixed'"),
                           ({"subset": "first"}, "subset must be one of"),
                           ({"proportions": [0.05]}, r"proportions \[0.05\] are not among"),
                           ({"proportions": []}, "non-empty list")):
        with pytest.raises(ConfigError, match=message):
            EvaluationSettings.from_params({**base, "models": {"m": {"encoder": "gates", **model}}})


def test_the_predictor_table_shows_a_fixed_subsets_spread_and_its_missing_proportions(tmp_path):
    import json

    from nasstages.report.encoders import plot_predictor_curves, predictor_markdown

    small = {"encoder": "mlp", "epochs": 2, "min_steps": 2, "hidden": 8}
    rows = _fits(small) + [{**row, "model": "fixed"} for row in
                           _fits({**small, "subset": "fixed", "subsets": 3, "proportions": [0.2]})]
    summary = summarize(rows)
    record = {"benchmark": "nb201", "dataset": "cifar10-valid", "cells": 162, "top": 0.05, "split": "half",
              "summary": summary, "runs": rows}
    path = tmp_path / "predictors.json"
    path.write_text(json.dumps(record))
    table = predictor_markdown([path])
    fixed = next(entry for entry in summary if entry["model"] == "fixed")
    line = next(line for line in table.splitlines() if line.startswith("| fixed (3 fixed subsets) |"))
    assert line.split(" | ")[1] == "—"  # it did not run at 5%
    assert line.split(" | ")[2].rstrip(" |") == f"{fixed['kendall_tau']:.4f} ± {fixed['kendall_tau_subset_std']:.4f}"
    per_seed = next(line for line in table.splitlines() if line.startswith("| m |"))
    assert "—" not in per_seed and "Fixed subsets: every seed trains on the same cells" in table
    assert all(path.exists() for path in plot_predictor_curves(record, tmp_path / "curves"))
