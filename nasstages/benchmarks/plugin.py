"""A benchmark as one self-describing plugin: what the config checks, the fetch command, the rule
helpers and the report need to know about it, declared once beside its reader.

A plugin names its search space and datasets, where its Benchmark class and store builder live
(imported only when used, so the Snakefile never loads torch or the data), and its capabilities.
Register it with ``register_benchmark`` (one line in ``nasstages/benchmarks/__init__.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nasstages.errors import ConfigError
from nasstages.registry import import_target

KINDS = ("tabular", "trained")
TABLES = ("accuracy", "errors", "final")


@dataclass(frozen=True)
class Sources:
    """Where to build a store from: the config's ``benchmarks.<name>`` section, for one benchmark."""

    benchmark: str
    mirror: Path | None = None     # a local mirror folder, tried first
    official: Path | None = None   # the official file or URL download, tried next
    data: Path | None = None       # trained benchmarks: the datasets' folder
    datasets: tuple[str, ...] = ()  # trained benchmarks: which datasets to put in the store
    md5: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchmarkPlugin:
    """One benchmark, described for the workflow.

    ``benchmark`` and ``build`` are ``"package.module:attribute"`` paths. For a tabular benchmark
    ``build(sources) -> TabularData`` reads the first source that works; the fetch command adds
    provenance and writes the verified store. A trained benchmark's ``build(sources, out)`` writes
    its own store."""

    name: str
    space: str                      # the registered search space its architectures live in
    datasets: tuple[str, ...]       # datasets / tasks, in table order
    benchmark: str                  # the Benchmark subclass opening its store
    build: str                      # the store builder (see above)
    kind: str = "tabular"           # "tabular": queries read a table; "trained": queries train networks
    noisy_seeds: bool = True        # several training runs per architecture: a query draws one
    table: str = "accuracy"         # the report's layout: accuracy (%), errors per task, final test error
    source_keys: tuple[str, ...] = ("mirror", "official")  # config keys naming its sources, in trial order
    download_hint: str = ""         # how a user gets the data, shown when no source works
    #: the config check requires an existing source before any job (data no mirror holds, e.g. NB101's
    #: official file); others fail in their fetch job, which names the sources tried
    sources_checked_early: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.table not in TABLES or not self.datasets:
            raise ValueError(f"benchmark plugin {self.name!r}: kind must be one of {KINDS}, table one of {TABLES}, "
                             f"datasets non-empty (got {self.kind!r}, {self.table!r}, {self.datasets!r})")

    @property
    def trained(self) -> bool:
        return self.kind == "trained"

    def benchmark_class(self) -> type:
        return import_target(self.benchmark)

    def builder(self) -> Callable[..., Any]:
        return import_target(self.build)

    def check_dataset(self, dataset: str, where: str) -> None:
        if dataset not in self.datasets:
            raise ConfigError(f"config {where}: unknown dataset {dataset!r} of {self.name}; "
                              f"choose from: {', '.join(self.datasets)}")


_PLUGINS: dict[str, BenchmarkPlugin] = {}


def register_benchmark(plugin: BenchmarkPlugin) -> BenchmarkPlugin:
    """Make ``plugin`` known to the config checks, the fetch command, the workflow and ``load_benchmark``."""
    from nasstages.benchmarks.registry import BENCHMARKS

    if plugin.name in _PLUGINS:
        raise ValueError(f"benchmark {plugin.name!r} is registered twice")
    _PLUGINS[plugin.name] = plugin
    BENCHMARKS.register_lazy(plugin.name, plugin.benchmark)
    return plugin


def plugin(name: str, where: str = "") -> BenchmarkPlugin:
    """The plugin registered as ``name``; a ConfigError naming the known ones otherwise."""
    try:
        return _PLUGINS[name]
    except KeyError:
        prefix = f"config {where}: " if where else ""
        raise ConfigError(f"{prefix}unknown benchmark {name!r}; choose one of: {', '.join(sorted(_PLUGINS))}") from None


def plugins() -> list[BenchmarkPlugin]:
    """Every registered plugin, by name."""
    return [_PLUGINS[name] for name in sorted(_PLUGINS)]


def fetch_store(sources: Sources, out: str | Path) -> str:
    """Build ``sources.benchmark``'s store at ``out`` from the first source that works; returns
    which kind of source it came from."""
    from nasstages.benchmarks.store import write_store
    from nasstages.provenance import provenance

    entry = plugin(sources.benchmark)
    if entry.trained:
        entry.builder()(sources, Path(out))
        return "data"
    data = entry.builder()(sources)
    # "space" names the benchmark, as every store written so far records it
    data.provenance = provenance({"space": entry.name, "mirror": str(sources.mirror), "official": str(sources.official)})
    write_store(out, data)
    return str(data.source.get("kind", "?"))
