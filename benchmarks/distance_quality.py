"""How well does each distance track performance? Spearman ρ between d(a, b) and |Δ accuracy|.

For ``--archs`` random NB201 cells (default 448: 100,128 pairs) on cifar10-valid, each metric's
distances are correlated with the absolute difference of the pairs' mean validation accuracies.
Usage: python benchmarks/distance_quality.py --store results/benchmarks/nb201.h5
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from nasstages.benchmarks import load_benchmark
from nasstages.distances import make_distance

METRICS = ("hotnn", "otmann", "tw", "edit", "path", "anasod")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("results/benchmarks/nb201.h5"))
    parser.add_argument("--dataset", default="cifar10-valid")
    parser.add_argument("--archs", type=int, default=448)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    bench = load_benchmark("nb201", args.store)
    rng = np.random.default_rng(args.seed)
    archs = [bench.space.from_index(int(i)) for i in rng.choice(bench.space.size, args.archs, replace=False)]
    acc = np.array([bench.mean_valid(a, args.dataset) for a in archs])
    upper = np.triu_indices(len(archs), k=1)
    gap = np.abs(acc[:, None] - acc[None, :])[upper]
    print(f"{len(gap):,} pairs of {len(archs)} random NB201 cells, {args.dataset}")
    print(f"{'metric':8s} {'Spearman rho':>12s} {'seconds':>8s}")
    for metric in METRICS:
        started = time.perf_counter()
        d = make_distance(metric, bench.space).pairwise(archs)[upper]
        rho = spearmanr(d, gap).statistic
        print(f"{metric:8s} {rho:12.3f} {time.perf_counter() - started:8.1f}")


if __name__ == "__main__":
    main()
