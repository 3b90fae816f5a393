"""The name -> Benchmark class registry; plugins (``plugin.py``) fill it."""

from nasstages.benchmarks.base import Benchmark
from nasstages.registry import Registry

BENCHMARKS: Registry[Benchmark] = Registry("benchmark")
