"""The exact random-search expectation against simulation and its edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from nasstages.report.random_search import expected_best_of_uniform


def test_exact_expectation_matches_simulated_random_search():
    rng = np.random.default_rng(0)
    values = rng.gamma(2.0, size=60)
    mean, sd = expected_best_of_uniform(values, 7)
    draws = np.array([values[rng.choice(60, 7, replace=False)].max() for _ in range(40000)])
    assert abs(draws.mean() - mean) < 4 * draws.std() / np.sqrt(len(draws))
    assert sd == pytest.approx(draws.std(), rel=0.03)


def test_edge_cases():
    values = np.array([3.0, 1.0, 2.0, 5.0])
    assert expected_best_of_uniform(values, 4) == (5.0, 0.0)  # every architecture: the optimum
    mean, _ = expected_best_of_uniform(values, 1)
    assert mean == pytest.approx(values.mean())
    # two of four: best is 5 when 5 is drawn (1/2), else 3 (1/3 of the rest), else 2
    assert expected_best_of_uniform(values, 2)[0] == pytest.approx(0.5 * 5 + 2 / 6 * 3 + 1 / 6 * 2)
    with pytest.raises(ValueError):
        expected_best_of_uniform(values, 5)
