"""OTMANN speed on this machine: the compiled block solver against POT per pair, same problems.

On TransNAS-Bench-101 macro networks (25 layers each, NASBOT eq. 3 costs, the default
parameters): pairs/s of ``OTMANN.pairwise`` (all cores) over a ``--rows`` × ``--cols`` block, and
of POT's network simplex on ``--pot-pairs`` of the same pairs through ``OTMANN._solve_with_pot``
(one core, cost built in numpy); the largest relative difference between the two, and the
ratio. The full 3,256 × 3,256 matrix is extrapolated from the block.

    python benchmarks/otmann_speed.py [--rows 200] [--cols 1600] [--pot-pairs 2000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from nasstages.distances.otmann import OTMANN
from nasstages.spaces import get_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="tnb101_macro")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--cols", type=int, default=1600)
    parser.add_argument("--pot-pairs", type=int, default=2000)
    args = parser.parse_args()
    import numba

    space = get_space(args.space)
    archs = list(space.enumerate())
    rng = np.random.default_rng(0)
    chosen = [archs[k] for k in rng.permutation(len(archs))[:args.rows + args.cols]]
    rows, cols = chosen[:args.rows], chosen[args.rows:]
    distance = OTMANN(space)
    distance.pairwise(rows[:4], cols[:4])  # compile (or load numba's cache) and build the layers
    for arch in chosen:
        distance.memoized_layers(space.canonicalize(arch))
    started = time.perf_counter()
    ours = distance.pairwise(rows, cols)
    ours_s = time.perf_counter() - started
    names = list(distance._op_index)
    table = np.array([[distance.mismatch(x, y) for y in names] for x in names])
    pairs = [(int(rng.integers(args.rows)), int(rng.integers(args.cols))) for _ in range(args.pot_pairs)]
    layers = [(distance.memoized_layers(space.canonicalize(rows[r])), distance.memoized_layers(
        space.canonicalize(cols[c]))) for r, c in pairs]
    distance._solve_with_pot(*layers[0], table, True)  # POT's import and first call outside the clock
    started = time.perf_counter()
    pot = [distance._solve_with_pot(x, y, table, True) for x, y in layers]
    pot_s = time.perf_counter() - started
    # POT solved each pair in the (row, column) orientation, ours in the canonical one: equal optima
    gap = max(abs(p - ours[r, c]) / max(abs(p), 1e-300) for p, (r, c) in zip(pot, pairs))
    ours_rate, pot_rate = ours.size / ours_s, len(pot) / pot_s
    full = len(archs) * (len(archs) - 1) / 2
    print(f"{args.space}: {args.rows} x {args.cols} block, cores {os.cpu_count()}, numba threads "
          f"{numba.get_num_threads()}")
    print(f"ours  {ours_rate:12,.0f} pairs/s  ({1e6 / ours_rate:.2f} µs/pair; full matrix ~{full / ours_rate:.0f} s)")
    print(f"POT   {pot_rate:12,.0f} pairs/s  ({1e6 / pot_rate:.2f} µs/pair, one core)")
    print(f"ratio ours/POT {ours_rate / pot_rate:.1f}x; largest relative difference {gap:.1e}")


if __name__ == "__main__":
    main()
