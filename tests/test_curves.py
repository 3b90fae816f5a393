"""Anytime curves: seeds on a shared simulated-time grid as step functions, and regret."""

from __future__ import annotations

import numpy as np
import pytest

from nasstages.analysis.curves import errors_at_times, shared_time_grid, simple_regret
from nasstages.errors import NasstagesError


def test_errors_at_times_reads_each_seed_as_a_step_function():
    errors = np.array([[9.0, 7.0, 7.0, 5.0], [8.0, 8.0, 6.0, 4.0]])
    times = np.array([[1.0, 2.0, 4.0, 8.0], [2.0, 3.0, 5.0, 6.0]])
    grid = np.array([2.0, 2.5, 3.0, 4.99, 5.0, 6.0])
    expected = np.array([[7.0, 7.0, 7.0, 7.0, 7.0, 7.0], [8.0, 8.0, 8.0, 8.0, 6.0, 4.0]])
    np.testing.assert_array_equal(errors_at_times(errors, times, grid), expected)
    with pytest.raises(NasstagesError, match="precedes"):
        errors_at_times(errors, times, np.array([1.5]))
    with pytest.raises(NasstagesError, match="decrease"):
        errors_at_times(errors, times[:, ::-1], grid)


def test_shared_time_grid_spans_what_every_seed_covers():
    times = np.array([[1.0, 2.0, 4.0, 8.0], [2.0, 3.0, 5.0, 6.0]])
    grid = shared_time_grid(times, points=50)
    assert len(grid) == 50 and grid[0] == pytest.approx(2.0) and grid[-1] == pytest.approx(6.0)
    assert np.all(np.diff(grid) > 0)
    assert len(shared_time_grid(np.array([[5.0, 6.0], [7.0, 9.0]]))) == 0  # no time every seed reaches
    assert len(shared_time_grid(np.zeros((2, 3)))) == 0


def test_regret_refuses_an_accuracy_above_the_optimum():
    np.testing.assert_allclose(simple_regret(np.array([[90.0, 91.5]]), 91.5), [[1.5, 0.0]])
    with pytest.raises(NasstagesError, match="exceeds the benchmark's optimum"):
        simple_regret(np.array([[90.0, 91.6]]), 91.5)
