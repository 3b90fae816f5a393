"""Cross-task comparisons: average ranks over the budget and Friedman + Nemenyi (Demšar 2006)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import friedmanchisquare

from nasstages.analysis.ranks import average_rank_curves, friedman_nemenyi, rank_figure_kinds
from nasstages.report.ranks import plot_critical_difference, rank_figures, task_errors
from nasstages.report.trajectories import MethodRuns

# Demšar 2006, Table 5(a): q_0.05 of the Nemenyi test for k = 2..10 classifiers
DEMSAR_Q05 = (1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164)


def test_average_ranks_by_hand_with_ties():
    # two tasks, three methods, two queries; at query 2 of task 0, a and b tie for rank 1.5
    errors = {"a": np.array([[3.0, 1.0], [1.0, 1.0]]), "b": np.array([[2.0, 1.0], [2.0, 2.0]]),
              "c": np.array([[1.0, 5.0], [3.0, 3.0]])}
    curves = average_rank_curves(errors)
    assert curves["a"] == pytest.approx([(3 + 1) / 2, (1.5 + 1) / 2])
    assert curves["b"] == pytest.approx([(2 + 2) / 2, (1.5 + 2) / 2])
    assert curves["c"] == pytest.approx([(1 + 3) / 2, (3 + 3) / 2])
    with pytest.raises(ValueError, match="same tasks"):
        average_rank_curves({"a": np.zeros((2, 3)), "b": np.zeros((3, 3))})


def test_friedman_statistic_equals_scipys_and_cd_demsars():
    rng = np.random.default_rng(0)
    for k in range(3, 11):
        finals = {f"m{j}": rng.random(14) + 0.05 * j for j in range(k)}  # continuous: no ties
        result = friedman_nemenyi(finals)
        oracle = friedmanchisquare(*finals.values())
        assert result.chi2 == pytest.approx(oracle.statistic, rel=1e-12)
        assert result.p_chi2 == pytest.approx(oracle.pvalue, rel=1e-9)
        q = result.critical_difference / math.sqrt(k * (k + 1) / (6 * 14))
        assert q == pytest.approx(DEMSAR_Q05[k - 2], abs=1.5e-3)
        # Iman–Davenport: F_F = (N−1) χ² / (N(k−1) − χ²)
        assert result.f_statistic == pytest.approx(13 * result.chi2 / (14 * (k - 1) - result.chi2))
    # Demšar's worked example: k = 4, N = 14 gives CD = 1.25 at α = 0.05
    assert friedman_nemenyi({m: rng.random(14) for m in "abcd"}).critical_difference == pytest.approx(1.25, abs=0.005)
    with pytest.raises(ValueError, match="at least 3 methods"):
        friedman_nemenyi({"a": np.ones(5), "b": np.zeros(5)})


def test_cd_groups_join_methods_within_the_critical_difference():
    # ranks fixed by construction: method j is j-th best on every task -> average ranks 1, 2, ..., 5
    finals = {f"m{j}": np.full(40, float(j)) + np.arange(40) * 10 for j in range(5)}
    result = friedman_nemenyi(finals)
    assert list(result.average_ranks) == [1, 2, 3, 4, 5]
    cd = result.critical_difference  # 2.728 * sqrt(30 / 240) ≈ 0.96: adjacent methods differ by 1 > CD
    assert cd < 1
    assert result.groups() == []
    assert result.p_chi2 < 1e-10
    result.critical_difference = 2.5  # then runs of three ranks (span 2 < 2.5) are groups, maximal only
    assert result.groups() == [(0, 2), (1, 3), (2, 4)]


def _runs(methods: dict[str, float], datasets: int, seeds: int = 3, queries: int = 20) -> list[MethodRuns]:
    rng = np.random.default_rng(1)
    out = []
    for d in range(datasets):
        for method, offset in methods.items():
            acc = 90 - offset - rng.random((seeds, queries))
            out.append(MethodRuns(benchmark="nb201", dataset=f"d{d}", method=method, seeds=list(range(seeds)),
                                  incumbent_mean_acc=np.maximum.accumulate(acc, axis=1), optimum=95.0,
                                  elapsed_s=np.ones(seeds), surrogate_s=np.zeros(seeds)))
    return out


def test_rank_figures_written_as_the_workflow_declares(tmp_path):
    runs = _runs({"rs": 2.0, "re": 1.0, "hotnas": 0.0, "bananas": 0.5}, datasets=4)
    written = rank_figures(runs, tmp_path)
    assert sorted(p.name for p in written) == sorted(f"nb201_{kind}.{ext}" for kind in rank_figure_kinds(4, 4)
                                                     for ext in ("pdf", "png"))
    assert rank_figure_kinds(4, 4) == ["rank", "cd"]
    assert all(p.stat().st_size > 500 for p in written)
    assert plot_critical_difference(_runs({"rs": 1.0, "re": 0.0}, datasets=3), tmp_path / "two") == []
    assert plot_critical_difference(_runs({"a": 1.0, "b": 0.0, "c": 2.0}, datasets=1), tmp_path / "one") == []


def test_task_errors_use_only_datasets_every_method_ran():
    runs = _runs({"rs": 1.0, "re": 0.0}, datasets=3)
    runs = [r for r in runs if not (r.method == "re" and r.dataset == "d2")]
    tasks, errors = task_errors(runs)
    assert tasks == ["d0", "d1"]
    assert errors["rs"].shape == (2, 20)
    expected = 100 - next(r for r in runs if r.method == "rs" and r.dataset == "d1").incumbent_mean_acc.mean(axis=0)
    assert errors["rs"][1] == pytest.approx(expected)
