"""How well an estimator ranks architectures (Ning et al., "Evaluating Efficient Performance
Estimators of Neural Architectures", NeurIPS 2021): rank correlations, precision at the top and
bottom, and the true rankings of the estimator's top picks. Higher scores predict better.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau, spearmanr

FRACTIONS = (0.005, 0.01, 0.05, 0.1, 0.2)


def _count(n: int, fraction: float) -> int:
    return max(1, int(round(n * fraction)))


def true_percentile(actual: np.ndarray) -> np.ndarray:
    """Each architecture's true ranking as a fraction in (0, 1]: the best has 1/n, the worst 1."""
    order = np.argsort(-actual, kind="stable")
    rank = np.empty(len(actual))
    rank[order] = np.arange(1, len(actual) + 1)
    return rank / len(actual)


def precision_at_top(scores: np.ndarray, actual: np.ndarray, fraction: float) -> float:
    """|estimator's top-K ∩ true top-K| / K, K = fraction of the architectures."""
    k = _count(len(actual), fraction)
    picked = set(np.argsort(-scores, kind="stable")[:k])
    return len(picked & set(np.argsort(-actual, kind="stable")[:k])) / k


def precision_at_bottom(scores: np.ndarray, actual: np.ndarray, fraction: float) -> float:
    """The same for the K worst (by estimator and by truth)."""
    return precision_at_top(-scores, -actual, fraction)


def best_ranking_at(scores: np.ndarray, actual: np.ndarray, fraction: float) -> float:
    """BR@K: the best true ranking (fraction, lower is better) among the estimator's top-K."""
    k = _count(len(actual), fraction)
    return float(true_percentile(actual)[np.argsort(-scores, kind="stable")[:k]].min())


def worst_ranking_at(scores: np.ndarray, actual: np.ndarray, fraction: float) -> float:
    """WR@K: the worst true ranking among the estimator's top-K."""
    k = _count(len(actual), fraction)
    return float(true_percentile(actual)[np.argsort(-scores, kind="stable")[:k]].max())


def ranking_metrics(scores: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """Kendall tau, Spearman rho and P@top/P@bottom, BR@/WR@ at every fraction of FRACTIONS."""
    scores, actual = np.asarray(scores, float), np.asarray(actual, float)
    keep = np.isfinite(scores) & np.isfinite(actual)
    scores, actual = scores[keep], actual[keep]
    out = {"n": float(len(actual)), "kendall_tau": float(kendalltau(scores, actual)[0]),
           "spearman": float(spearmanr(scores, actual)[0])}
    for fraction in FRACTIONS:
        key = f"{fraction * 100:g}%"
        out[f"P@top{key}"] = precision_at_top(scores, actual, fraction)
        out[f"P@bottom{key}"] = precision_at_bottom(scores, actual, fraction)
        out[f"BR@{key}"] = best_ranking_at(scores, actual, fraction)
        out[f"WR@{key}"] = worst_ranking_at(scores, actual, fraction)
    return out


def rank_error_bias(scores: np.ndarray, actual: np.ndarray, covariate: np.ndarray) -> float:
    """Spearman correlation between an architecture's rank error (estimator rank − true rank, as
    fractions) and a covariate (#params, #parameter-free ops): 0 means no bias; > 0 means the
    estimator over-ranks architectures with a large covariate."""
    error = true_percentile(actual) - true_percentile(scores)
    return float(spearmanr(error, covariate)[0])
