"""How fast is the NB201 store? Load and query times against parsing the mirror CSVs.

Prints ratios against a reference run in the same process:
  python benchmarks/store_speed.py [--mirror ../shared/benchmarks/nb201]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from nasstages.benchmarks.nb201 import NB201Benchmark, NB201Sources, load_sources
from nasstages.benchmarks.store import write_store


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path(__file__).resolve().parents[2] / "shared/benchmarks/nb201")
    parser.add_argument("--queries", type=int, default=20000)
    args = parser.parse_args()
    sources = NB201Sources(mirror=args.mirror)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "nb201.h5"
        parse_s = best_of(3, lambda: load_sources(sources))
        write_store(store, load_sources(sources))
        load_s = best_of(5, lambda: NB201Benchmark(store))
        bench = NB201Benchmark(store)
        rng = np.random.default_rng(0)
        archs = [bench.space.sample(rng) for _ in range(args.queries)]
        query_s = best_of(3, lambda: [bench.query(a, "cifar10-valid", rng) for a in archs])
        print(f"store size            {store.stat().st_size / 1e6:8.2f} MB")
        print(f"parse mirror CSVs     {parse_s * 1e3:8.1f} ms  (reference)")
        print(f"open + verify store   {load_s * 1e3:8.1f} ms  ({parse_s / load_s:.0f}x faster than parsing)")
        print(f"noisy query           {query_s / args.queries * 1e6:8.2f} us/query "
              f"({args.queries / query_s:,.0f} queries/s)")


if __name__ == "__main__":
    main()
