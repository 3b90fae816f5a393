"""Semantic checks of the workflow config, run by the Snakefile before any job is scheduled.

The JSON schema (workflow/schemas/config.schema.yaml) checks types and keys; this checks what
a schema cannot: that every named benchmark, dataset, space and method exists and that method
parameters are ones the method accepts.
"""

from __future__ import annotations

from typing import Any

from nasstages.benchmarks import BENCHMARKS
from nasstages.benchmarks.nb201 import DATASETS as NB201_DATASETS
from nasstages.distances import DISTANCES
from nasstages.errors import ConfigError
from nasstages.search import check_method_params
from nasstages.spaces import SPACES

BENCHMARK_DATASETS = {"nb201": NB201_DATASETS}


def seeds_of(search: dict[str, Any]) -> list[int]:
    """The seeds to run: ``seeds: N`` means 0..N-1, a list means exactly those."""
    seeds = search["seeds"]
    return list(range(seeds)) if isinstance(seeds, int) else sorted(set(int(s) for s in seeds))


def check_config(config: dict[str, Any]) -> None:
    """Raise ConfigError naming the key and the fix for the first semantic mistake found."""
    for name in config.get("benchmarks", {}):
        if name not in BENCHMARKS:
            raise ConfigError(f"config benchmarks.{name}: unknown benchmark; choose one of: {', '.join(BENCHMARKS)}")
    for space, pools in config.get("pools", {}).items():
        if space not in SPACES:
            raise ConfigError(f"config pools.{space}: unknown search space; choose one of: {', '.join(SPACES)}")
    for space, settings in config.get("distances", {}).items():
        pools = config.get("pools", {}).get(space, {})
        for pool in settings["pools"]:
            if pool not in pools:
                raise ConfigError(f"config distances.{space}.pools: pool {pool!r} is not defined under pools.{space}")
            if settings.get("tiles", 1) > pools[pool]["size"]:
                raise ConfigError(f"config distances.{space}.tiles: more tiles per side than pool {pool!r} has archs")
        for metric, params in settings["metrics"].items():
            DISTANCES.check_params(metric, params or {}, where=f"distances.{space}.metrics.{metric}")
    search = config.get("search", {})
    for benchmark, datasets in search.get("benchmarks", {}).items():
        if benchmark not in BENCHMARKS:
            raise ConfigError(
                f"config search.benchmarks.{benchmark}: unknown benchmark; choose one of: {', '.join(BENCHMARKS)}"
            )
        if benchmark not in config.get("benchmarks", {}):
            raise ConfigError(f"config search.benchmarks.{benchmark}: add a benchmarks.{benchmark} section naming its sources")
        known = BENCHMARK_DATASETS[benchmark]
        for dataset in datasets:
            if dataset not in known:
                raise ConfigError(
                    f"config search.benchmarks.{benchmark}: unknown dataset {dataset!r}; choose from: {', '.join(known)}"
                )
    for method, params in search.get("methods", {}).items():
        check_method_params(method, params or {}, where=f"search.methods.{method}")
