"""Zero-shot proxies against values derived by hand on a two-layer ReLU network, and the NB201
network builder against the benchmark's own parameter counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nasstages.evaluators import proxies
from nasstages.evaluators.model import count_parameters
from nasstages.evaluators.nb201_network import NB201Network

W1 = np.array([[1.0, -2.0], [3.0, 0.5]])
W2 = np.array([[0.5, 1.0], [-1.0, 2.0]])


def tiny_mlp() -> nn.Module:
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor(W1))
        model[2].weight.copy_(torch.tensor(W2))
    return model.double()


def test_params_flops_and_synflow_by_hand():
    x = torch.ones(1, 2, dtype=torch.float64)
    assert proxies.params(tiny_mlp()) == 8
    assert proxies.flops(tiny_mlp(), x) == 2 * 2 + 2 * 2
    conv = nn.Conv2d(1, 2, 3, padding=1)
    assert proxies.flops(conv, torch.zeros(1, 1, 4, 4)) == 2 * 4 * 4 * 9
    # |W1| 1 = [3, 3.5] -> |W2| h = [5, 10]: R = 15; a 2-layer homogeneous net gives synflow = 2R
    assert proxies.synflow(tiny_mlp(), x) == pytest.approx(30.0)


def _hand_gradients(x: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    pre = W1 @ x
    h = np.maximum(pre, 0)
    logits = W2 @ h
    p = np.exp(logits - logits.max())
    p /= p.sum()
    g = p - np.eye(2)[target]
    grad_w2 = np.outer(g, h)
    grad_w1 = np.outer((W2.T @ g) * (pre > 0), x)
    return grad_w1, grad_w2


def test_grad_norm_and_snip_by_hand():
    x = np.array([1.0, 1.0])
    g1, g2 = _hand_gradients(x, target=0)
    inputs, targets = torch.tensor(x[None]), torch.tensor([0])
    assert proxies.grad_norm(tiny_mlp(), inputs, targets) == pytest.approx(np.linalg.norm(g1) + np.linalg.norm(g2))
    assert proxies.snip(tiny_mlp(), inputs, targets) == pytest.approx(np.abs(W1 * g1).sum() + np.abs(W2 * g2).sum())


def test_naswot_and_jacob_cov_by_hand():
    xs = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 0.2]])
    # ReLU codes: pre-activations W1 x = [-1, 3.5], [3, 2.5], [-1.4, -2.9] -> [0,1], [1,1], [0,0]
    codes = (xs @ W1.T > 0).astype(float)
    kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
    assert kernel.tolist() == [[2, 1, 1], [1, 2, 0], [1, 0, 2]]
    assert proxies.naswot(tiny_mlp(), torch.tensor(xs), None) == pytest.approx(np.log(np.linalg.det(kernel)))
    # jacob_cov on 3 inputs: the Jacobian of the summed output is 1ᵀ W2 diag(relu'(W x)) W per image
    w = np.array([[1.0, -2.0, 0.5], [3.0, 0.5, -1.0]])
    model = nn.Sequential(nn.Linear(3, 2, bias=False), nn.ReLU(), nn.Linear(2, 2, bias=False)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor(w))
        model[2].weight.copy_(torch.tensor(W2))
    xs = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # codes [0,1], [1,1], [1,0]
    jac = np.stack([np.ones(2) @ W2 @ np.diag((w @ x > 0).astype(float)) @ w for x in xs])
    eig = np.linalg.eigvalsh(np.corrcoef(jac))
    expected = -np.sum(np.log(eig + 1e-5) + 1 / (eig + 1e-5))
    assert proxies.jacob_cov(model, torch.tensor(xs), None) == pytest.approx(expected)


def test_unknown_proxy_is_named():
    with pytest.raises(ValueError, match="unknown proxy 'zen'.*synflow"):
        proxies.score("zen", tiny_mlp(), torch.ones(1, 2), torch.zeros(1, dtype=torch.long))


def test_nb201_network_has_the_benchmarks_parameter_counts(nb201_store):
    from nasstages.benchmarks.store import read_store
    from nasstages.spaces import get_space

    store, space = read_store(nb201_store), get_space("nb201")
    rng = np.random.default_rng(0)
    mismatched = []
    for index in rng.choice(len(store.archs), 60, replace=False):
        arch = space.from_string(store.archs[index])
        counts = [count_parameters(NB201Network(arch, classes)) / 1e6 for classes in (10, 100, 120)]
        expected = [store.datasets[d].params_mb[index] for d in ("cifar10-valid", "cifar100", "ImageNet16-120")]
        if not np.allclose(counts, expected, atol=5e-7):
            mismatched.append(store.archs[index])
    # a few benchmark rows (~0.7% in a 300-cell sample) carry counts of another cell; the rest match exactly
    assert len(mismatched) <= 2, mismatched
    model = NB201Network(space.from_string(store.archs[0]))
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


# -- ranking metrics of the diagnosis -------------------------------------------------------------

def test_kendall_and_precision_at_k_against_brute_force():
    from itertools import combinations

    from nasstages.analysis.ranking import best_ranking_at, precision_at_bottom, ranking_metrics, worst_ranking_at

    rng = np.random.default_rng(0)
    actual = rng.permutation(40).astype(float)
    scores = actual + rng.normal(0, 8, 40)
    pairs = list(combinations(range(40), 2))
    concordant = sum(np.sign(scores[i] - scores[j]) == np.sign(actual[i] - actual[j]) for i, j in pairs)
    metrics = ranking_metrics(scores, actual)
    assert metrics["kendall_tau"] == pytest.approx((2 * concordant - len(pairs)) / len(pairs))
    top4_true = set(sorted(range(40), key=lambda i: -actual[i])[:4])
    top4_est = set(sorted(range(40), key=lambda i: -scores[i])[:4])
    assert metrics["P@top10%"] == len(top4_true & top4_est) / 4
    assert precision_at_bottom(scores, actual, 0.1) == len(
        set(sorted(range(40), key=lambda i: actual[i])[:4]) & set(sorted(range(40), key=lambda i: scores[i])[:4])) / 4
    # 5 archs, true order a > b > c > d > e; the estimator's top-2 are c and a: best true rank 1/5, worst 3/5
    actual5, scores5 = np.array([5.0, 4, 3, 2, 1]), np.array([9.0, 1, 10, 2, 3])
    assert best_ranking_at(scores5, actual5, 0.4) == 0.2 and worst_ranking_at(scores5, actual5, 0.4) == 0.6
    assert ranking_metrics(actual, actual)["kendall_tau"] == 1.0 and ranking_metrics(-actual, actual)["P@top5%"] == 0


def test_config_check_names_bad_estimate_settings(tmp_path):
    from nasstages.config import check_config
    from nasstages.errors import ConfigError

    def config(**estimates):
        return {"results": str(tmp_path), "seed": 0, "benchmarks": {"nb201": {"mirror": "x"}},
                "pools": {"nb201": {"p": {"size": 10}}},
                "estimates": {"nb201": {"pools": ["p"], "proxies": ["synflow"], **estimates}},
                "search": {"budget": 2, "seeds": 1, "benchmarks": {}, "methods": {}}}

    check_config(config())
    with pytest.raises(ConfigError, match="unknown proxy 'zen'"):
        check_config(config(proxies=["zen"]))
    with pytest.raises(ConfigError, match="pool 'q' is not defined"):
        check_config(config(pools=["q"]))
    with pytest.raises(ConfigError, match="unknown dataset 'svhn'"):
        check_config(config(diagnose={"benchmark": "nb201", "datasets": ["svhn"]}))


def test_diagnosis_over_seeds_averages_metrics_and_reports_tau_std():
    from nasstages.analysis.estimators import diagnose
    from nasstages.analysis.ranking import ranking_metrics

    rng = np.random.default_rng(1)
    actual = rng.permutation(50).astype(float)
    seeds = np.stack([actual + rng.normal(0, s, 50) for s in (5.0, 15.0, 30.0)], axis=1)
    covariate = rng.normal(size=50)
    row = diagnose("proxy", seeds, actual, covariate, covariate, "synthetic", 1.0)
    taus = [ranking_metrics(seeds[:, k], actual)["kendall_tau"] for k in range(3)]
    assert row["seeds"] == 3
    assert row["kendall_tau"] == pytest.approx(np.mean(taus))
    assert row["kendall_tau_std"] == pytest.approx(np.std(taus)) and row["kendall_tau_std"] > 0.05
    one = diagnose("proxy", seeds[:, 0], actual, covariate, covariate, "synthetic", 1.0)
    assert one["seeds"] == 1 and one["kendall_tau"] == pytest.approx(taus[0]) and "kendall_tau_std" not in one


def test_an_edited_estimate_file_is_refused_by_its_checksum(tmp_path):
    import h5py

    from nasstages.errors import CorruptStoreError
    from nasstages.evaluators.estimates import read_estimates, write_estimates

    path = tmp_path / "synflow.h5"
    write_estimates(path, ["a", "b", "c"], np.array([1.0, 2.0, 3.0]), {"proxy": "synflow"})
    assert read_estimates(path)[1].tolist() == [1.0, 2.0, 3.0]
    with h5py.File(path, "r+") as f:
        f["scores"][1] = 2.5
    with pytest.raises(CorruptStoreError, match="does not match its recorded checksum.*rerun the estimate stage"):
        read_estimates(path)
