"""Training throughput of DARTS networks (images/s), final-evaluation against search setting.

Trains DARTS-V2 on synthetic CIFAR-shaped data with the trainer's own step (augmentation, cutout,
auxiliary loss, drop-path, gradient clipping; mixed precision on a GPU) at the final-evaluation
setting (36 channels, 20 cells, batch 96) and at the default search setting (16 channels, 8 cells,
batch 64), on the GPU when present (else CPU), and prints images/s, their ratio, and the wall-clock
a full DARTS-space search + final evaluation would take at these rates.
Usage: python benchmarks/train_throughput.py [--device cpu|cuda] [--steps N] [--queries 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from nasstages.devices import resolve_device
from nasstages.evaluators.protocol import SEARCH_PROTOCOL
from nasstages.evaluators.cifar import CifarData
from nasstages.evaluators.train import Protocol, Trainer
from nasstages.spaces.darts import DartsSpace

DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")


def images_per_second(protocol: Protocol, device: str, steps: int) -> float:
    """Images/s of ``steps`` training batches (after one warm-up batch), through Trainer.train_epoch."""
    n = protocol.batch_size * (steps + 1)
    rng = np.random.default_rng(0)
    data = CifarData("cifar10", rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n),
                     np.zeros((0, 3, 32, 32), np.uint8), np.zeros(0, np.int64), md5="synthetic")
    warm = Protocol(**{**protocol.__dict__, "valid_size": 0, "train_size": protocol.batch_size})
    Trainer(DartsSpace().from_string(DARTS_V2), data, warm, seed=0, device=device).train_epoch()
    trainer = Trainer(DartsSpace().from_string(DARTS_V2), data, Protocol(**{**protocol.__dict__, "valid_size": 0,
                                                                             "train_size": 0}), seed=0, device=device)
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    trainer.train_epoch()
    if device == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=None, help="batches timed (default 5 on CPU, 50 on GPU)")
    parser.add_argument("--queries", type=int, default=100, help="search budget for the wall-clock estimate")
    parser.add_argument("--replicates", type=int, default=1, help="final trainings for the estimate")
    args = parser.parse_args()
    device = resolve_device(args.device)
    steps = args.steps or (50 if device == "cuda" else 5)
    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    final = Protocol()
    search = Protocol.from_params(SEARCH_PROTOCOL)
    final_rate = images_per_second(final, device, steps)
    search_rate = images_per_second(search, device, steps)
    print(f"device: {name}")
    print(f"final evaluation (36 ch, 20 cells, batch 96, aux, drop-path, cutout{', AMP' if device == 'cuda' else ''}): "
          f"{final_rate:,.1f} images/s")
    print(f"search query (16 ch, 8 cells, batch 64):  {search_rate:,.1f} images/s  "
          f"({search_rate / final_rate:.1f}x the final setting)")
    search_images = args.queries * search.epochs * (50_000 - search.valid_size)
    final_images = args.replicates * final.epochs * 50_000
    search_h, final_h = search_images / search_rate / 3600, final_images / final_rate / 3600
    print(f"one search of {args.queries} queries x {search.epochs} epochs on {50_000 - search.valid_size:,} images: "
          f"{search_h:,.1f} h; final evaluation ({args.replicates} x {final.epochs} epochs on 50,000): {final_h:,.1f} h; "
          f"total {search_h + final_h:,.1f} h on this device (training steps only)")


if __name__ == "__main__":
    main()
