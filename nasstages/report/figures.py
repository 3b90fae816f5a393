"""Anytime curves, mean +- one standard error over seeds: best-found validation error against
queries and against simulated training time, and regret (optimum - incumbent) on a log axis."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nasstages.analysis.curves import errors_at_times, shared_time_grid, simple_regret  # noqa: E402
from nasstages.io import atomic_path  # noqa: E402
from nasstages.report.names import benchmark_name, dataset_name, method_name  # noqa: E402
from nasstages.report.trajectories import MethodRuns, mean_and_se  # noqa: E402


PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
           "#dbdb8d", "#9edae5")  # tab10, then its light shades (tab20's)


def method_colors(methods: Iterable[str]) -> dict[str, str]:
    """One colour per method, by first appearance in ``methods`` (every run of a report, in config
    order), so a method keeps its colour in every figure of the report."""
    order = list(dict.fromkeys(methods))
    return {m: PALETTE[k % len(PALETTE)] for k, m in enumerate(order)}


def plot_error_curves(runs: list[MethodRuns], out_stem: Path, colors: dict[str, str] | None = None) -> list[Path]:
    """Best-found error against queries for all methods of one (benchmark, dataset); writes
    ``out_stem``.pdf and .png."""
    colors = colors or method_colors(run.method for run in runs)
    fig, ax = plt.subplots(figsize=FIGSIZE, constrained_layout=True)
    for run in runs:
        _band(ax, np.arange(1, run.error.shape[1] + 1), run.error, run, colors)
    _optimum_line(ax, runs)
    ax.set_yscale("log")
    _query_axis(ax)
    ax.set_ylabel("best-found validation error (%)")
    return _finish(fig, ax, runs, out_stem)


def plot_time_curves(runs: list[MethodRuns], out_stem: Path, colors: dict[str, str] | None = None) -> list[Path]:
    """Best-found error against simulated training time (the benchmark's training cost of the
    queried architectures, summed), on the times all seeds of a method reach; writes ``out_stem``.pdf and .png."""
    colors = colors or method_colors(run.method for run in runs)
    fig, ax = plt.subplots(figsize=FIGSIZE, constrained_layout=True)
    for run in runs:
        grid = shared_time_grid(run.sim_time_s)
        if len(grid):
            _band(ax, grid, errors_at_times(run.error, run.sim_time_s, grid), run, colors, step=True)
    _optimum_line(ax, runs)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("simulated training time (s)")
    ax.set_ylabel("best-found validation error (%)")
    return _finish(fig, ax, runs, out_stem)


def plot_regret_curves(runs: list[MethodRuns], out_stem: Path, colors: dict[str, str] | None = None) -> list[Path]:
    """Regret (benchmark optimum - incumbent validation accuracy, percentage points) against
    queries on a log axis, as NAS papers plot it; a mean regret of zero (every seed found the
    optimum) leaves the log axis. Writes ``out_stem``.pdf and .png."""
    colors = colors or method_colors(run.method for run in runs)
    fig, ax = plt.subplots(figsize=FIGSIZE, constrained_layout=True)
    for run in runs:
        regret = simple_regret(run.incumbent_mean_acc, run.optimum)
        _band(ax, np.arange(1, regret.shape[1] + 1), regret, run, colors)
    ax.set_yscale("log", nonpositive="mask")
    _query_axis(ax)
    ax.set_ylabel("regret (optimum - best-found accuracy, %)")
    return _finish(fig, ax, runs, out_stem)


def has_optimum(runs: list[MethodRuns]) -> bool:
    """Whether the benchmark's optimum is known (tabular), so regret is defined (not DARTS)."""
    return bool(np.isfinite(runs[0].optimum))


FIGSIZE = (4.8, 3.4)  # inches; halves to a two-column paper's column width with legible 8 pt text


def _band(ax, x, values: np.ndarray, run: MethodRuns, colors: dict[str, str], step: bool = False) -> None:
    mean, se = mean_and_se(values)
    where = {"drawstyle": "steps-post"} if step else {}
    line, = ax.plot(x, mean, label=f"{method_name(run.method)} (n={len(run.seeds)})", color=colors[run.method], **where)
    if len(run.seeds) > 1:
        lower = np.where(mean - se > 0, mean - se, np.nan)  # a log axis cannot show a band through zero
        ax.fill_between(x, lower, mean + se, color=line.get_color(), alpha=0.25, linewidth=0,
                        step="post" if step else None)


def _optimum_line(ax, runs: list[MethodRuns]) -> None:
    optimum_error = 100.0 - runs[0].optimum
    if has_optimum(runs):
        ax.axhline(optimum_error, color="black", linestyle="--", linewidth=0.8, label=f"optimum ({optimum_error:.2f})")


def _query_axis(ax) -> None:
    ax.set_xlabel("number of queries")
    ax.xaxis.get_major_locator().set_params(integer=True)


def _finish(fig, ax, runs: list[MethodRuns], out_stem: Path) -> list[Path]:
    ax.set_title(f"{benchmark_name(runs[0].benchmark)}, {dataset_name(runs[0].dataset)}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return save_figure(fig, out_stem)


def save_figure(fig, out_stem: Path) -> list[Path]:
    """Write ``out_stem``.pdf and .png atomically and close the figure."""
    written = []
    for suffix in (".pdf", ".png"):
        target = out_stem.with_suffix(suffix)
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=suffix[1:], dpi=150)
        written.append(target)
    plt.close(fig)
    return written
