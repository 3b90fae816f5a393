"""GPU engine of HOTNN's iFGW against the CPU engine (and POT batch on the GPU), same machine.

Prints pairs/s of both engines on NB201 cells, their largest disagreement, the wall-clock of the
full NB201 HOTNN cell matrix (all 8,765 unique canonical cells) on the GPU and, when POT is
installed, POT batch (torch, CUDA) on square-loss problems. Usage: python benchmarks/distances_gpu.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nasstages.distances import fgw_solver
from nasstages.distances.fgw_cuda import cuda_available, ifgw_block_cuda
from nasstages.distances.hotnn import PackedCells, restart_permutations
from nasstages.distances.ops import op_distance_table
from nasstages.spaces import get_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-cells", type=int, default=1500)
    parser.add_argument("--loss", default="absolute", choices=["absolute", "square"])
    args = parser.parse_args()
    if not cuda_available():
        raise SystemExit("no CUDA GPU here")
    space = get_space("nb201")
    cells_by_arch = {}
    for arch in space.enumerate():
        canonical = space.canonicalize(arch)
        cells_by_arch.setdefault(space.to_string(canonical), space.to_graph(canonical).cells["cell"])
    keys = sorted(cells_by_arch)
    cells = [cells_by_arch[k] for k in keys]
    vocabulary = sorted(cells[0].vocabulary)
    D = op_distance_table(vocabulary)
    packed = PackedCells(cells, vocabulary, D, 0.5)
    rank = np.arange(len(cells), dtype=np.int64)
    perms = restart_permutations(8, 1)
    kind = fgw_solver.LOSSES[args.loss]

    def sub(k):
        class View:  # the first k cells
            pass
        view = View()
        for name in ("ops", "structure", "intra", "sorted_intra", "prefix_intra", "sizes"):
            setattr(view, name, getattr(packed, name)[:k])
        return view

    small = sub(64)
    ifgw_block_cuda(small, rank[:64], small, rank[:64], D, 0.5, 0.5, kind, perms, 100, 1e-9, True)  # compile
    k = args.cpu_cells
    view = sub(k)
    started = time.perf_counter()
    gpu_sub = ifgw_block_cuda(view, rank[:k], view, rank[:k], D, 0.5, 0.5, kind, perms, 100, 1e-9, True)
    gpu_sub_s = time.perf_counter() - started
    cpu_sub = np.zeros((k, k))
    warm = sub(8)
    fgw_solver.ifgw_block(warm.ops, warm.structure, warm.intra, warm.sorted_intra, warm.prefix_intra, warm.sizes,
                          rank[:8], warm.ops, warm.structure, warm.intra, warm.sorted_intra, warm.prefix_intra,
                          warm.sizes, rank[:8], D, 0.5, 0.5, kind, perms, 100, 1e-9, True, np.zeros((8, 8)))  # compile
    started = time.perf_counter()
    fgw_solver.ifgw_block(view.ops, view.structure, view.intra, view.sorted_intra, view.prefix_intra, view.sizes,
                          rank[:k], view.ops, view.structure, view.intra, view.sorted_intra, view.prefix_intra,
                          view.sizes, rank[:k], D, 0.5, 0.5, kind, perms, 100, 1e-9, True, cpu_sub)
    cpu_s = time.perf_counter() - started
    pairs_sub = k * (k - 1) / 2
    print(f"{k} cells ({pairs_sub:,.0f} pairs), {args.loss} loss:")
    import numba

    print(f"  CPU engine ({numba.get_num_threads()} threads) {pairs_sub / cpu_s:14,.0f} pairs/s")
    print(f"  GPU engine                 {pairs_sub / gpu_sub_s:14,.0f} pairs/s (incl. transfers)")
    diff = np.abs(gpu_sub - cpu_sub)[np.triu_indices(k, 1)]
    print(f"  |GPU - CPU| <= 1e-9 on {np.mean(diff <= 1e-9):.4%} of pairs; max {diff.max():.2e}, "
          f"mean {diff.mean():.2e}; mean GPU - CPU {np.mean((gpu_sub - cpu_sub)[np.triu_indices(k, 1)]):+.2e}")

    n = len(cells)
    started = time.perf_counter()
    full = ifgw_block_cuda(packed, rank, packed, rank, D, 0.5, 0.5, kind, perms, 100, 1e-9, True)
    full_s = time.perf_counter() - started
    pairs = n * (n - 1) / 2
    print(f"full NB201: {n} unique cells, {pairs:,.0f} solves in {full_s:.2f} s = {pairs / full_s:,.0f} pairs/s "
          f"(mean {full[np.triu_indices(n, 1)].mean():.4f})")
    try:
        import ot
        import torch
    except ImportError:
        print("POT not installed: no POT batch comparison")
        return
    batch = 400_000
    idx = np.random.default_rng(0).integers(0, n, size=(batch, 2))
    h = np.abs(packed.structure[idx[:, 0]][:, :, None, :] - packed.structure[idx[:, 1]][:, None, :, :]).mean(-1)
    M = 0.5 * D[packed.ops[idx[:, 0]][:, :, None], packed.ops[idx[:, 1]][:, None, :]] + 0.5 * h
    tM, tC1, tC2 = (torch.tensor(x, dtype=torch.float32, device="cuda")
                    for x in (M, packed.intra[idx[:, 0]], packed.intra[idx[:, 1]]))
    ot.batch.solve_gromov_batch(tC1[:1000], tC2[:1000], M=tM[:1000], alpha=0.5, max_iter=50, max_iter_inner=20)
    torch.cuda.synchronize()
    started = time.perf_counter()
    ot.batch.solve_gromov_batch(tC1, tC2, M=tM, alpha=0.5, max_iter=50, max_iter_inner=20)
    torch.cuda.synchronize()
    pot_s = time.perf_counter() - started
    print(f"POT batch (torch CUDA, float32, square loss, 50x20 iterations): {batch / pot_s:,.0f} pairs/s")
    print("ratios:")
    print(f"  GPU engine / CPU engine = {(pairs / full_s) / (pairs_sub / cpu_s):,.0f}x")
    print(f"  GPU engine / POT batch on GPU = {(pairs / full_s) / (batch / pot_s):,.0f}x")


if __name__ == "__main__":
    main()
