"""Which methods a table may mark as best: every method not significantly worse than the best mean.

Each method's final values over its seeds are compared with the best-mean method's by a two-sided
Mann–Whitney U test (runs of different methods are independent, so unpaired), and the p-values of
these comparisons are Holm-corrected (Holm 1979, step-down) at family-wise level ``alpha``."""

from __future__ import annotations

from typing import Mapping

import numpy as np

ALPHA = 0.05
TEST_SENTENCE = ("Bold: the best mean and every method not significantly worse than it (two-sided Mann–Whitney U "
                 "test across seeds against the best, Holm-corrected, α = 0.05).")


def holm_rejections(pvalues: Mapping[str, float], alpha: float = ALPHA) -> set[str]:
    """The hypotheses Holm's step-down procedure rejects: sorted ascending, the i-th (from 0) of m is
    rejected while p ≤ α / (m − i); the first that is not stops the procedure."""
    rejected: set[str] = set()
    ordered = sorted(pvalues, key=lambda key: (pvalues[key], key))
    for i, key in enumerate(ordered):
        if pvalues[key] > alpha / (len(ordered) - i):
            break
        rejected.add(key)
    return rejected


def not_worse_than_best(finals: Mapping[str, np.ndarray], higher_is_better: bool = True,
                        alpha: float = ALPHA) -> set[str]:
    """Methods whose final values (one per seed) are not significantly worse than the best mean's."""
    from scipy.stats import mannwhitneyu

    finals = {m: np.asarray(v, dtype=float) for m, v in finals.items() if len(v)}
    if not finals:
        return set()
    sign = 1.0 if higher_is_better else -1.0
    best = max(sorted(finals), key=lambda m: sign * finals[m].mean())
    pvalues = {}
    for method, values in finals.items():
        if method == best:
            continue
        if np.array_equal(np.sort(values), np.sort(finals[best])):
            pvalues[method] = 1.0  # identical samples: no evidence of a difference (the test is undefined)
        else:
            pvalues[method] = float(mannwhitneyu(values, finals[best], alternative="two-sided").pvalue)
    return set(finals) - holm_rejections(pvalues, alpha)
