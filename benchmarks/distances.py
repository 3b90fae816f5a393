"""Distance-stage speed on this machine: our compiled FGW against POT, HOTNN, the full NB201 matrix.

One run, same machine, same NAS-cell problems (8-node NB201 op-on-node cells, HOTNAS costs):
  1. square-loss FGW pairs/s: POT per pair (fused_gromov_wasserstein2), POT batch
     (ot.batch.solve_gromov_batch, torch backend, 50 outer × 20 inner iterations), ours
     (compiled conditional gradient, all cores), with mean objectives to show matched accuracy;
  2. HOTNN (absolute loss) pairs/s through the full distance path (features, unique cells);
  3. wall-clock of the full NB201 HOTNN matrix (15,625 cells, via unique canonical cells).
The last lines print the ratios.  Usage: python benchmarks/distances.py [--skip-full]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_fgw_solver import nas_cell_problems, objective  # noqa: E402  (shared problem generator)

from nasstages.distances import fgw_solver  # noqa: E402
from nasstages.distances.hotnn import HOTNN  # noqa: E402
from nasstages.spaces import get_space  # noqa: E402


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pot-pairs", type=int, default=1000)
    parser.add_argument("--batch-pairs", type=int, default=4000)
    parser.add_argument("--our-pairs", type=int, default=200000)
    parser.add_argument("--skip-full", action="store_true", help="skip the full NB201 matrix")
    args = parser.parse_args()
    import ot
    import torch

    import numba

    print(f"cores: {os.cpu_count()}, numba threads: {numba.get_num_threads()}")
    problems = nas_cell_problems(max(args.pot_pairs, args.batch_pairs))
    M = np.array([p[0] for p in problems])
    C1 = np.array([p[1] for p in problems])
    C2 = np.array([p[2] for p in problems])
    n = M.shape[1]
    uniform = np.full(n, 1 / n)

    # 1a. POT, one pair at a time
    k = args.pot_pairs
    pot_values, pot_s = timed(lambda: [ot.gromov.fused_gromov_wasserstein2(M[b], C1[b], C2[b], uniform, uniform,
                                                                           loss_fun="square_loss", alpha=0.5)
                                       for b in range(k)])
    pot_rate = k / pot_s

    # 1b. POT batch (torch backend)
    kb = args.batch_pairs
    tM, tC1, tC2 = (torch.tensor(x[:kb]) for x in (M, C1, C2))
    batch_result, batch_s = timed(lambda: ot.batch.solve_gromov_batch(tC1, tC2, M=tM, alpha=0.5, loss="sqeuclidean",
                                                                      max_iter=50, max_iter_inner=20))
    plans = batch_result.plan.numpy()
    batch_rate = kb / batch_s
    violation = np.abs(plans.sum(axis=2) - 1 / n).sum(axis=1) / 1.0  # L1 row-marginal error (mass 1)
    batch_values = np.array([objective(M[b], C1[b], C2[b], plans[b], 0.5, "square") for b in range(min(kb, 500))])

    # 1c. ours, all cores (compile first, outside the timing)
    reps = int(np.ceil(args.our_pairs / len(M)))
    bigM, bigC1, bigC2 = (np.ascontiguousarray(np.tile(x, (reps, 1, 1))[: args.our_pairs]) for x in (M, C1, C2))
    out = np.empty(len(bigM))
    fgw_solver.fgw_batch(bigM[:10], bigC1[:10], bigC2[:10], 0.5, fgw_solver.SQUARE, 100, 1e-9, out[:10])
    _, ours_s = timed(lambda: fgw_solver.fgw_batch(bigM, bigC1, bigC2, 0.5, fgw_solver.SQUARE, 100, 1e-9, out))
    ours_rate = len(bigM) / ours_s

    print(f"FGW square loss, {n}-node NB201 cells, alpha = 0.5")
    print(f"  POT per pair     {pot_rate:12,.0f} pairs/s   mean objective {np.mean(pot_values):.6f} ({k} pairs)")
    print(f"  POT batch        {batch_rate:12,.0f} pairs/s   mean objective {batch_values.mean():.6f} "
          f"(plans' median row-marginal L1 error {np.median(violation):.1%}) ({kb} pairs)")
    print(f"  ours             {ours_rate:12,.0f} pairs/s   mean objective {out[:k].mean():.6f} ({len(bigM)} pairs)")
    lower_or_equal = np.mean(out[:k] <= np.array(pot_values) * (1 + 1e-7) + 1e-12)
    print(f"  ours <= POT per pair on {lower_or_equal:.1%} of pairs; mean relative difference "
          f"{np.mean((out[:k] - pot_values) / np.maximum(pot_values, 1e-12)):+.2e}")

    space = get_space("nb201")
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(2000)]
    hotnn = HOTNN(space)
    hotnn.pairwise(archs[:20])
    _, hot_s = timed(lambda: hotnn.pairwise(archs))
    uniq = len({space.canonicalize(a) for a in archs})
    hot_rate = uniq * (uniq - 1) / 2 / hot_s
    print(f"HOTNN (absolute loss) on 2,000 random NB201 archs ({uniq} unique canonical cells): "
          f"{hot_s:.2f} s, {hot_rate:,.0f} cell pairs/s")

    full_s = float("nan")
    if not args.skip_full:
        everything = list(space.enumerate())
        full, full_s = timed(lambda: hotnn.pairwise(everything).astype(np.float32))
        uniq = len({space.canonicalize(a) for a in everything})
        print(f"full NB201 HOTNN matrix: {full.shape[0]}×{full.shape[1]} from {uniq} unique cells "
              f"({uniq * (uniq - 1) // 2:,} solves) in {full_s:.1f} s")
    print("ratios:")
    print(f"  ours / POT per pair = {ours_rate / pot_rate:,.0f}x")
    print(f"  ours / POT batch    = {ours_rate / batch_rate:,.0f}x")
    if not args.skip_full:
        print(f"  full NB201 HOTNN matrix: {full_s:.1f} s (goal < 120 s)")


if __name__ == "__main__":
    main()
