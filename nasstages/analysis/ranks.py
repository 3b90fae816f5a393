"""Comparing methods across tasks by rank: average rank over the budget, and the Friedman test with
Nemenyi's critical difference at the final budget (Demšar, "Statistical comparisons of classifiers
over multiple data sets", JMLR 7, 2006, §3.2.2).

A task is one (benchmark, dataset); a method's value on a task is its mean best-found error over
seeds, so every task weighs the same whatever its seed count. Rank 1 is the lowest error; tied
methods share the mean of their ranks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

ALPHA = 0.05


def ranks_per_task(errors: np.ndarray) -> np.ndarray:
    """Ranks of ``errors`` (tasks × methods × …) along the methods axis, 1 = lowest, ties averaged."""
    from scipy.stats import rankdata

    return rankdata(np.asarray(errors, dtype=float), axis=1, method="average")


def average_rank_curves(errors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each method's rank averaged over tasks, per query: ``errors[method]`` is (tasks, queries) of
    mean best-found errors, the tasks in one order for every method; curves are truncated to the
    shortest budget."""
    methods = list(errors)
    if len(methods) < 2:
        raise ValueError("average ranks need at least two methods")
    tasks = {np.asarray(errors[m]).shape[0] for m in methods}
    if len(tasks) != 1:
        raise ValueError(f"every method needs the same tasks for average ranks (task counts {sorted(tasks)})")
    length = min(np.asarray(errors[m]).shape[1] for m in methods)
    stacked = np.stack([np.asarray(errors[m], dtype=float)[:, :length] for m in methods], axis=1)
    mean_rank = ranks_per_task(stacked).mean(axis=0)  # (methods, queries)
    return {m: mean_rank[k] for k, m in enumerate(methods)}


@dataclass
class FriedmanNemenyi:
    """The test's result: average ranks, Friedman's χ²_F and p, Iman–Davenport's F_F and p, and
    Nemenyi's critical difference at ``alpha`` (two methods whose average ranks differ by less are
    not significantly different)."""

    methods: list[str]
    average_ranks: np.ndarray
    tasks: int
    chi2: float
    p_chi2: float
    f_statistic: float
    p_f: float
    critical_difference: float
    alpha: float

    def groups(self) -> list[tuple[int, int]]:
        """Maximal runs (first, last) of the rank-sorted methods whose ranks span less than the CD:
        the bars of a critical-difference diagram (indices into :meth:`order`)."""
        ranks = self.average_ranks[self.order()]
        runs: list[tuple[int, int]] = []
        for first in range(len(ranks)):
            last = first
            while last + 1 < len(ranks) and ranks[last + 1] - ranks[first] < self.critical_difference:
                last += 1
            if last > first and not any(a <= first and last <= b for a, b in runs):
                runs.append((first, last))
        return runs

    def order(self) -> np.ndarray:
        """Method indices from best (lowest average rank) to worst."""
        return np.argsort(self.average_ranks, kind="stable")


def friedman_nemenyi(finals: Mapping[str, np.ndarray], alpha: float = ALPHA) -> FriedmanNemenyi:
    """The Friedman test and Nemenyi's critical difference over ``finals[method]`` (tasks,) of final
    errors, one task order for every method (Demšar 2006, eqs. for χ²_F, F_F and CD)."""
    from scipy.stats import chi2 as chi2_dist
    from scipy.stats import f as f_dist
    from scipy.stats import studentized_range

    methods = list(finals)
    table = np.stack([np.asarray(finals[m], dtype=float) for m in methods], axis=1)  # (N, k)
    n, k = table.shape
    if k < 3 or n < 2:
        raise ValueError(f"the Friedman test needs at least 3 methods and 2 tasks (have {k} and {n})")
    R = ranks_per_task(table).mean(axis=0)
    chi2 = 12.0 * n / (k * (k + 1)) * (float(np.sum(R ** 2)) - k * (k + 1) ** 2 / 4.0)
    denominator = n * (k - 1) - chi2
    f_statistic = (n - 1) * chi2 / denominator if denominator > 0 else math.inf
    p_f = float(f_dist.sf(f_statistic, k - 1, (k - 1) * (n - 1))) if math.isfinite(f_statistic) else 0.0
    # q_α: the studentized range statistic over √2 (Demšar's table 5 is this for k ≤ 10)
    q_alpha = float(studentized_range.ppf(1.0 - alpha, k, np.inf)) / math.sqrt(2.0)
    cd = q_alpha * math.sqrt(k * (k + 1) / (6.0 * n))
    return FriedmanNemenyi(methods=methods, average_ranks=R, tasks=n, chi2=chi2,
                           p_chi2=float(chi2_dist.sf(chi2, k - 1)), f_statistic=f_statistic, p_f=p_f,
                           critical_difference=cd, alpha=alpha)


def rank_figure_kinds(methods: int, datasets: int) -> list[str]:
    """The cross-task figures a benchmark with that many methods and datasets (each method on every
    dataset) gets: ``rank`` from 2 methods, ``cd`` from 3 methods on 2 datasets (what the workflow
    declares as the report's outputs)."""
    return (["rank"] if methods >= 2 and datasets >= 1 else []) + (["cd"] if methods >= 3 and datasets >= 2 else [])
