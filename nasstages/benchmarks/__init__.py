"""Tabular benchmarks: building normalized stores and querying them, registered by name."""

from pathlib import Path

from nasstages.benchmarks.base import NOISE_MODES, Benchmark, Evaluation
from nasstages.benchmarks.nb201 import NB201Benchmark
from nasstages.benchmarks.tnb101 import TNB101MacroBenchmark, TNB101MicroBenchmark
from nasstages.registry import Registry

BENCHMARKS: Registry[Benchmark] = Registry("benchmark")
BENCHMARKS.register("nb201")(NB201Benchmark)
BENCHMARKS.register("tnb101_micro")(TNB101MicroBenchmark)
BENCHMARKS.register("tnb101_macro")(TNB101MacroBenchmark)
# trains networks (imports torch), so loaded only when used
BENCHMARKS.register_lazy("darts", "nasstages.evaluators.benchmark:DartsTrainingBenchmark")


def load_benchmark(name: str, store_path: str | Path, **options) -> Benchmark:
    """Open the store at ``store_path`` as benchmark ``name`` (``options``: e.g. the DARTS
    benchmark's training protocol and device)."""
    return BENCHMARKS.get(name)(store_path, **options)


__all__ = ["BENCHMARKS", "NOISE_MODES", "Benchmark", "Evaluation", "load_benchmark"]
