"""Tabular and trained benchmarks, each one self-describing plugin (``plugin.py``) registered here.

Adding a benchmark: a module declaring its reader, Benchmark class and ``PLUGIN``, plus one
``register_benchmark`` line below (README, "Extending").
"""

from pathlib import Path

from nasstages.benchmarks import darts, nb101, nb201, nb201_12ep, tnb101
from nasstages.benchmarks.base import NOISE_MODES, Benchmark, Evaluation
from nasstages.benchmarks.plugin import BenchmarkPlugin, Sources, fetch_store, plugin, plugins, register_benchmark
from nasstages.benchmarks.registry import BENCHMARKS

register_benchmark(nb201.PLUGIN)
register_benchmark(tnb101.MICRO_PLUGIN)
register_benchmark(tnb101.MACRO_PLUGIN)
register_benchmark(darts.PLUGIN)
register_benchmark(nb201_12ep.PLUGIN)
register_benchmark(nb101.PLUGIN)


def load_benchmark(name: str, store_path: str | Path, **options) -> Benchmark:
    """Open the store at ``store_path`` as benchmark ``name`` (``options``: e.g. the DARTS
    benchmark's training protocol and device)."""
    return BENCHMARKS.get(name)(store_path, **options)


__all__ = ["BENCHMARKS", "NOISE_MODES", "Benchmark", "BenchmarkPlugin", "Evaluation", "Sources", "fetch_store",
           "load_benchmark", "plugin", "plugins", "register_benchmark"]
