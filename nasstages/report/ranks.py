"""Figures across the tasks of a benchmark: average rank over the budget and a critical-difference
diagram at its end (Demšar 2006; the tests in :mod:`nasstages.analysis.ranks`)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from nasstages.analysis.ranks import average_rank_curves, friedman_nemenyi, rank_figure_kinds
from nasstages.report.figures import method_colors, plt, save_figure
from nasstages.report.names import benchmark_name, method_name
from nasstages.report.trajectories import MethodRuns

log = logging.getLogger(__name__)


def task_errors(runs: list[MethodRuns]) -> tuple[list[str], dict[str, np.ndarray]]:
    """(tasks, method -> (tasks, queries) mean best-found error) over the datasets every method of
    ``runs`` ran on; datasets missing a method are left out (and logged)."""
    by_method: dict[str, dict[str, MethodRuns]] = {}
    for run in runs:
        by_method.setdefault(run.method, {})[run.dataset] = run
    datasets = list(dict.fromkeys(run.dataset for run in runs))
    common = [d for d in datasets if all(d in found for found in by_method.values())]
    if len(common) < len(datasets):
        log.info("ranks over %s leave out datasets not run by every method: %s", runs[0].benchmark,
                 sorted(set(datasets) - set(common)))
    length = min((run.error.shape[1] for run in runs if run.dataset in common), default=0)
    errors = {m: np.stack([found[d].error[:, :length].mean(axis=0) for d in common]) if common else np.zeros((0, 0))
              for m, found in by_method.items()}
    return common, errors


def plot_average_ranks(runs: list[MethodRuns], out_stem: Path, colors: dict[str, str]) -> list[Path]:
    """Each method's rank averaged over the benchmark's datasets, against queries; nothing with
    fewer than two methods or no dataset every method ran."""
    tasks, errors = task_errors(runs)
    if "rank" not in rank_figure_kinds(len(errors), len(tasks)):
        return []
    curves = average_rank_curves(errors)
    fig, ax = plt.subplots(figsize=(3.4, 2.6 + 0.16 * ((len(curves) + 1) // 2)), constrained_layout=True)
    for method, curve in curves.items():
        ax.plot(np.arange(1, len(curve) + 1), curve, label=method_name(method), color=colors[method], linewidth=1.2)
    ax.set_xlabel("number of queries")
    ax.set_ylabel(f"average rank ({len(tasks)} tasks)")
    ax.set_ylim(len(curves) + 0.5, 0.5)  # rank 1 on top
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(benchmark_name(runs[0].benchmark), fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="x-small", ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.28), frameon=False)
    return save_figure(fig, out_stem)


def plot_critical_difference(runs: list[MethodRuns], out_stem: Path) -> list[Path]:
    """Demšar's critical-difference diagram of the final best-found errors over the benchmark's
    datasets: average ranks on an axis, bars joining methods within Nemenyi's CD (α = 0.05);
    nothing with fewer than 3 methods or 2 datasets (the Friedman test's minimum)."""
    tasks, errors = task_errors(runs)
    if "cd" not in rank_figure_kinds(len(errors), len(tasks)):
        return []
    result = friedman_nemenyi({m: e[:, -1] for m, e in errors.items()})
    k = len(result.methods)
    order = result.order()
    ranks = result.average_ranks
    half = (k + 1) // 2
    fig, ax = plt.subplots(figsize=(4.8, 0.9 + 0.22 * half), constrained_layout=True)
    margin = 0.75 * k  # room for the labels: the better half on the left, the rest on the right
    ax.set_xlim(1 - margin, k + margin)
    ax.set_ylim(-(half + 1.2), 1.6)
    ax.axis("off")
    ax.hlines(0, 1, k, color="black", linewidth=0.8)
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.15, color="black", linewidth=0.8)
        ax.text(r, 0.3, str(r), ha="center", va="bottom", fontsize="x-small")
    cd = result.critical_difference
    ax.hlines(1.2, 1, 1 + cd, color="black", linewidth=1.2)
    ax.text(1 + cd / 2, 1.3, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize="x-small")
    for position, index in enumerate(order):  # best half labelled on the left, the rest on the right
        left = position < half
        row = -(position + 1) if left else -(k - position)
        x_label = 0.8 if left else k + 0.2
        ax.plot([ranks[index], ranks[index], x_label], [0, row, row], color="black", linewidth=0.7)
        ax.text(x_label + (-0.05 if left else 0.05), row, f"{method_name(result.methods[index])} ({ranks[index]:.2f})",
                ha="right" if left else "left", va="center", fontsize="x-small")
    for level, (first, last) in enumerate(result.groups()):
        y = -0.35 - 0.18 * level
        ax.hlines(y, ranks[order[first]] - 0.03, ranks[order[last]] + 0.03, color="black", linewidth=2.2)
    ax.set_title(f"{benchmark_name(runs[0].benchmark)}: final errors, {len(tasks)} tasks; Friedman p = "
                 f"{result.p_chi2:.2g}, Nemenyi α = {result.alpha}", fontsize="x-small")
    return save_figure(fig, out_stem)


def rank_figures(runs: list[MethodRuns], out_dir: Path) -> list[Path]:
    """The average-rank and critical-difference figures of every benchmark in ``runs``, one colour
    per method across them (``figures/<benchmark>_rank`` and ``_cd``)."""
    colors = method_colors(run.method for run in runs)
    by_benchmark: dict[str, list[MethodRuns]] = {}
    for run in runs:
        by_benchmark.setdefault(run.benchmark, []).append(run)
    written: list[Path] = []
    for benchmark, group in by_benchmark.items():
        written += plot_average_ranks(group, out_dir / "figures" / f"{benchmark}_rank", colors)
        written += plot_critical_difference(group, out_dir / "figures" / f"{benchmark}_cd")
    return written
