"""Best-found validation error against queries, mean +- one standard error over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

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
    """Plot all methods of one (benchmark, dataset); writes ``out_stem``.pdf and .png."""
    colors = colors or method_colors(run.method for run in runs)
    fig, ax = plt.subplots(figsize=(4.8, 3.4), constrained_layout=True)
    for run in runs:
        mean, se = mean_and_se(run.error)
        steps = range(1, len(mean) + 1)
        line, = ax.plot(steps, mean, label=f"{method_name(run.method)} (n={len(run.seeds)})", color=colors[run.method])
        if len(run.seeds) > 1:
            ax.fill_between(steps, mean - se, mean + se, color=line.get_color(), alpha=0.25, linewidth=0)
    optimum_error = 100.0 - runs[0].optimum
    if np.isfinite(optimum_error):  # unknown where queries train networks (DARTS)
        ax.axhline(optimum_error, color="black", linestyle="--", linewidth=0.8, label=f"optimum ({optimum_error:.2f})")
    ax.set_yscale("log")
    ax.set_xlabel("number of queries")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("best-found validation error (%)")
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
