"""Anytime curves on a common axis: best-found error against simulated training time, and regret.

A run's queries arrive at its own cumulative simulated times, so seeds are averaged on a shared
time grid, reading each seed's best-found error as a step function (the value of its last query
at or before t), over the times every seed covers (from the latest first query to the earliest
last one), as the HPO literature plots anytime performance (e.g. Eggensperger et al., HPOBench,
NeurIPS 2021 Datasets and Benchmarks).
"""

from __future__ import annotations

import numpy as np

from nasstages.errors import NasstagesError


def shared_time_grid(times: np.ndarray, points: int = 200) -> np.ndarray:
    """Log-spaced times that every seed of ``times`` (seeds, queries; cumulative seconds) covers;
    empty when the seeds share no interval of positive time."""
    times = np.asarray(times, dtype=float)
    start, stop = times[:, 0].max(), times[:, -1].min()
    if not (np.isfinite(start) and np.isfinite(stop)) or start <= 0 or stop < start:
        return np.empty(0)
    return np.geomspace(start, stop, points) if stop > start else np.array([start])


def errors_at_times(errors: np.ndarray, times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Each seed's best-found error at each grid time, (seeds, len(grid)): the error after its last
    query finished at or before t. ``errors`` and ``times`` are (seeds, queries), times non-decreasing."""
    errors, times = np.asarray(errors, dtype=float), np.asarray(times, dtype=float)
    if errors.shape != times.shape:
        raise NasstagesError(f"errors {errors.shape} and times {times.shape} differ in shape")
    if (np.diff(times, axis=1) < 0).any():
        raise NasstagesError("simulated times decrease within a run: its search log is corrupt; rerun that run")
    out = np.empty((errors.shape[0], len(grid)))
    for seed in range(errors.shape[0]):
        last = np.searchsorted(times[seed], grid, side="right") - 1
        if (last < 0).any():
            raise NasstagesError("a grid time precedes a seed's first query; build the grid with shared_time_grid")
        out[seed] = errors[seed, last]
    return out


def simple_regret(incumbent_acc: np.ndarray, optimum: float) -> np.ndarray:
    """Regret of the incumbent, optimum - incumbent mean accuracy (percentage points), refused if
    negative: no architecture beats the benchmark's optimum, so a negative value is corrupt input."""
    regret = float(optimum) - np.asarray(incumbent_acc, dtype=float)
    if (regret < -1e-9).any():
        raise NasstagesError(f"an incumbent accuracy exceeds the benchmark's optimum {optimum} (impossible): "
                             "its search log or the benchmark store is corrupt; rebuild them")
    return np.clip(regret, 0.0, None)
