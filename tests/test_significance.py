"""Significance marking in tables: Holm's step-down on Mann–Whitney U p-values against the best."""

from __future__ import annotations

import numpy as np
from scipy.stats import mannwhitneyu

from nasstages.analysis.significance import holm_rejections, not_worse_than_best


def test_holm_steps_down_and_stops_at_the_first_kept_hypothesis():
    # m = 4: thresholds 0.0125, 0.0167, 0.025, 0.05 for the sorted p-values. Bonferroni (0.0125 for all)
    # would reject only a; Holm also rejects b (0.016 <= 0.0167); c (0.03 > 0.025) stops it, so d is kept
    # although 0.04 < 0.05
    assert holm_rejections({"a": 0.01, "b": 0.016, "c": 0.03, "d": 0.04}) == {"a", "b"}
    assert holm_rejections({"a": 0.001, "b": 0.5, "c": 0.002}) == {"a", "c"}
    assert holm_rejections({"a": 0.2}) == set() and holm_rejections({}) == set()


def test_methods_within_noise_of_the_best_stay_bold_and_clearly_worse_ones_do_not():
    rng = np.random.default_rng(0)
    finals = {"best": 91.5 + 0.05 * rng.standard_normal(10),
              "tied": 91.49 + 0.05 * rng.standard_normal(10),    # within noise
              "worse": 90.0 + 0.05 * rng.standard_normal(10)}    # far below: every rank lower
    bold = not_worse_than_best(finals)
    assert bold == {"best", "tied"}
    assert mannwhitneyu(finals["worse"], finals["best"]).pvalue < 0.05 / 2
    # errors: lower is better, the same decision mirrored
    errors = {m: 100 - v for m, v in finals.items()}
    assert not_worse_than_best(errors, higher_is_better=False) == {"best", "tied"}


def test_few_seeds_cannot_show_a_difference():
    # with 2 seeds each the smallest two-sided Mann-Whitney p is 1/3: nothing is rejected
    assert not_worse_than_best({"a": [91.0, 91.1], "b": [80.0, 80.1]}) == {"a", "b"}
    assert not_worse_than_best({"a": [90.0, 90.0, 90.0], "b": [90.0, 90.0, 90.0]}) == {"a", "b"}
