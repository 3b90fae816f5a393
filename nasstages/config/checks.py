"""Semantic checks of the workflow config, run by the Snakefile before any job is scheduled.

The JSON schema (workflow/schemas/config.schema.yaml) checks types and keys; this checks what
a schema cannot: that every named benchmark, dataset, space and method exists and that method
parameters are ones the method accepts.
"""

from __future__ import annotations

from typing import Any

from nasstages.benchmarks import BENCHMARKS, plugin
from nasstages.config.access import (benchmark_budget, benchmark_datasets, benchmark_methods, benchmark_space,
                                     distance_pool_of, encoder_spaces, matrix_metric, predictor_evaluation_settings)
from nasstages.distances import DISTANCES
from nasstages.errors import ConfigError
from nasstages.evaluators.proxy_names import NETWORK_BUILDERS
from nasstages.search import check_method_params, method_class
from nasstages.spaces import SPACES, get_space


def _check_dataset(benchmark: str, dataset: str, where: str) -> None:
    plugin(benchmark, where).check_dataset(dataset, where)


def _check_benchmark(config: dict[str, Any], benchmark: str, where: str) -> None:
    if benchmark not in BENCHMARKS:
        raise ConfigError(f"config {where}: unknown benchmark {benchmark!r}; choose one of: {', '.join(BENCHMARKS)}")
    if benchmark not in config.get("benchmarks", {}):
        raise ConfigError(f"config {where}: add a benchmarks.{benchmark} section naming its sources")


def _check_encoders(config: dict[str, Any]) -> None:
    from nasstages.distances import ENCODER_OF_METRIC
    from nasstages.encoders import PRETRAINED_ENCODERS
    from nasstages.search import ENCODER_OF_METHOD, algorithm_of

    for space, settings in config.get("encoders", {}).items():
        if space not in SPACES:
            raise ConfigError(f"config encoders.{space}: unknown search space; choose one of: {', '.join(SPACES)}")
        for name, encoder in PRETRAINED_ENCODERS.items():
            if name in settings:
                encoder.check(settings[name])
                check_applicable("encoder", name, encoder.requires, get_space(space), f"encoders.{space}")
        cells = settings.get("cells")
        if cells:
            _check_benchmark(config, cells, f"encoders.{space}.cells")
            if benchmark_space(cells) != space:
                raise ConfigError(f"config encoders.{space}.cells: benchmark {cells} is on space "
                                  f"{benchmark_space(cells)}, not {space}")
        elif get_space(space).size is None and any(name in settings for name in PRETRAINED_ENCODERS):
            raise ConfigError(f"config encoders.{space}: {space} cannot be enumerated, so the encoder trains on the "
                              f"cells of a benchmark's store; set encoders.{space}.cells to that benchmark "
                              f"(e.g. cells: {space})")
        quality = settings.get("quality")
        if quality:
            _check_benchmark(config, quality["benchmark"], f"encoders.{space}.quality.benchmark")
            _check_dataset(quality["benchmark"], quality["dataset"], f"encoders.{space}.quality.dataset")
            if benchmark_space(quality["benchmark"]) != space:
                raise ConfigError(f"config encoders.{space}.quality: benchmark {quality['benchmark']} is on space "
                                  f"{benchmark_space(quality['benchmark'])}, not {space}")
    for space, settings in config.get("distances", {}).items():
        for metric in settings["metrics"]:
            encoder = ENCODER_OF_METRIC.get(metric)
            if encoder and space not in encoder_spaces(config, encoder):
                raise ConfigError(f"config distances.{space}.metrics.{metric}: needs encoders.{space}.{encoder} "
                                  f"(add it, e.g. 'encoders: {{{space}: {{{encoder}: {{}}}}}}')")
            if encoder and "embeddings" in (settings["metrics"][metric] or {}):
                raise ConfigError(f"config distances.{space}.metrics.{metric}.embeddings: set by the workflow; remove it")
    search = config.get("search", {})
    for method, params in search.get("methods", {}).items():
        encoder = ENCODER_OF_METHOD.get(algorithm_of(method, params))
        if not encoder:
            continue
        for benchmark in search.get("benchmarks", {}):
            if method not in benchmark_methods(search, benchmark):
                continue
            space = benchmark_space(benchmark)
            if space not in encoder_spaces(config, encoder):
                raise ConfigError(f"config search.methods.{method}: needs encoders.{space}.{encoder} "
                                  f"(add it, e.g. 'encoders: {{{space}: {{{encoder}: {{}}}}}}')")
        if "embeddings" in (search["methods"][method] or {}):
            raise ConfigError(f"config search.methods.{method}.embeddings: set by the workflow; remove it")


def _check_distance_pool(config: dict[str, Any], method: str, params: dict[str, Any]) -> None:
    """``distance_pool`` (a workflow setting): the method reads its metric's precomputed matrix over
    that pool of each benchmark's space, so that pool and metric must be configured under distances."""
    where = f"config search.methods.{method}.distance_pool"
    cls = method_class(method, params)
    metric = matrix_metric(cls, params)
    if metric is None:
        raise ConfigError(f"{where}: method {method!r} uses no distance matrix; remove distance_pool")
    if "distance_matrix" in params:
        raise ConfigError(f"{where}: set distance_pool or distance_matrix, not both")
    if hasattr(cls, "default_kernel"):  # a distance BO: can its kernel settings read a stored matrix?
        from nasstages.search.kernel_bo import check_kernel_settings

        try:
            check_kernel_settings(cls.metric, params.get("kernel") or cls.default_kernel,
                                  params.get("lengthscales") or cls.default_lengthscales, True,
                                  params.get("gp_optimizer", "gradient"))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    search = config["search"]
    pools = params["distance_pool"]
    if isinstance(pools, dict):
        for benchmark, pool in pools.items():
            _check_benchmark(config, benchmark, f"search.methods.{method}.distance_pool")
            if not isinstance(pool, str):
                raise ConfigError(f"{where}.{benchmark}: give a pool name, not {pool!r}")
    elif not isinstance(pools, str):
        raise ConfigError(f"{where}: give a pool name, or a mapping benchmark -> pool name")
    for benchmark in search.get("benchmarks", {}):
        pool = distance_pool_of(params, benchmark)
        if pool is None or method not in benchmark_methods(search, benchmark):
            continue
        space = benchmark_space(benchmark)
        settings = config.get("distances", {}).get(space, {})
        if pool not in settings.get("pools", []) or metric not in settings.get("metrics", {}):
            raise ConfigError(f"{where}: {method} on {benchmark} reads the {metric!r} matrix of pool {pool!r}; add "
                              f"pool {pool!r} to distances.{space}.pools and {metric!r} to distances.{space}.metrics "
                              f"(and the pool under pools.{space})")


def _check_zs_prefilter(config: dict[str, Any], method: str, params: dict[str, Any]) -> None:
    """``zs_prefilter``: a mutation-pool method ranks its candidates by a zero-shot proxy first; with
    ``pool`` it reads the estimate stage's scores of that pool, so proxy and pool must be estimated."""
    import inspect

    from nasstages.search.prefilter import check_prefilter_settings

    where = f"config search.methods.{method}.zs_prefilter"
    if "zs_prefilter" not in inspect.signature(method_class(method, params)).parameters:
        raise ConfigError(f"{where}: {method} has no mutation candidate pool to prefilter; remove zs_prefilter")
    settings = params["zs_prefilter"]
    try:
        check_prefilter_settings(settings, in_config=True)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    pool = settings.get("pool")
    search = config["search"]
    for benchmark in search.get("benchmarks", {}):
        if method not in benchmark_methods(search, benchmark):
            continue
        space = benchmark_space(benchmark)
        if space not in NETWORK_BUILDERS:
            raise ConfigError(f"{where}: zero-shot proxies build networks of {', '.join(NETWORK_BUILDERS)} only; "
                              f"{method} also runs on {benchmark} (give the prefiltered variant its own method name, "
                              f"run it on a benchmark of those spaces only)")
        if not pool:
            continue
        estimates = config.get("estimates", {}).get(space, {})
        if pool not in estimates.get("pools", []) or settings["proxy"] not in estimates.get("proxies", []):
            raise ConfigError(f"{where}: {method} on {benchmark} reads the {settings['proxy']!r} scores of pool "
                              f"{pool!r}; add {pool!r} to estimates.{space}.pools and {settings['proxy']!r} to "
                              f"estimates.{space}.proxies (or drop pool to score candidates on the fly)")


def _check_trained_benchmark(config: dict[str, Any], name: str) -> None:
    """The DARTS benchmark: its archives (unless the store is built), protocols and noise mode."""
    from pathlib import Path

    settings = config["benchmarks"][name]
    where = f"config benchmarks.{name}"
    if settings.get("mirror") or settings.get("official"):
        raise ConfigError(f"{where}: queries train networks; it takes data (the CIFAR archives' folder), "
                          "not mirror/official")
    if not settings.get("data"):
        raise ConfigError(f"{where}.data: set it to the folder holding cifar-10-python.tar.gz "
                          "(https://www.cs.toronto.edu/~kriz/cifar.html, 'python version')")
    from nasstages.evaluators.protocol import Protocol, search_protocol

    search_protocol(settings.get("search") or {})
    Protocol.from_params(settings.get("final") or {}, where=f"benchmarks.{name}.final")
    search = config.get("search", {})
    if name in search.get("benchmarks", {}):
        if search.get("noise", "sample") != "sample":
            raise ConfigError(f"config search.noise: {name} trains each query once; use noise: sample")
        from nasstages.evaluators.cifar import ARCHIVES, URL, archive_path

        for dataset in benchmark_datasets(search, name):
            _check_dataset(name, dataset, f"search.benchmarks.{name}")
            if not (Path(config["results"]) / "benchmarks" / name / f"{dataset}.h5").exists():
                path = archive_path(dataset, settings["data"])
                if not path.is_file():
                    raise ConfigError(f"{where}.data: no {dataset} archive at {path}; download "
                                      f"{URL.format(archive=ARCHIVES[dataset][0])} there, or point data at its folder")


def _check_predictors(config: dict[str, Any]) -> None:
    from nasstages.encoders.predictor_quality import EvaluationSettings

    for benchmark, settings in config.get("predictors", {}).items():
        _check_benchmark(config, benchmark, f"predictors.{benchmark}")
        check_applicable("predictor evaluation", benchmark, {"single_cell": "the encoders read one fixed-size cell graph"},
                         get_space(benchmark_space(benchmark)), f"predictors.{benchmark}")
        for dataset in settings["datasets"]:
            _check_dataset(benchmark, dataset, f"predictors.{benchmark}.datasets")
        try:  # what the predictor_quality rule passes the command: the same schema, checked before any job
            EvaluationSettings.from_params(predictor_evaluation_settings(settings))
        except ConfigError as exc:
            raise ConfigError(f"config predictors.{benchmark}: {exc}") from None


def _check_estimates(config: dict[str, Any]) -> None:
    from nasstages.evaluators.proxy_names import PROXIES

    for space, settings in config.get("estimates", {}).items():
        where = f"config estimates.{space}"
        if space not in NETWORK_BUILDERS:
            raise ConfigError(f"{where}: the estimate stage builds networks of {', '.join(NETWORK_BUILDERS)} only "
                              f"(nasstages.evaluators.proxy_names.NETWORK_BUILDERS); remove {space}")
        for pool in settings["pools"]:
            if pool not in config.get("pools", {}).get(space, {}):
                raise ConfigError(f"{where}.pools: pool {pool!r} is not defined under pools.{space}")
            if settings.get("tiles", 1) > config["pools"][space][pool]["size"]:
                raise ConfigError(f"{where}.tiles: more tiles than pool {pool!r} has architectures")
        for proxy in settings["proxies"]:
            if proxy not in PROXIES:
                raise ConfigError(f"{where}.proxies: unknown proxy {proxy!r}; choose from: {', '.join(PROXIES)}")
        diagnose = settings.get("diagnose")
        if diagnose:
            _check_benchmark(config, diagnose["benchmark"], f"estimates.{space}.diagnose.benchmark")
            if benchmark_space(diagnose["benchmark"]) != space:
                raise ConfigError(f"{where}.diagnose: benchmark {diagnose['benchmark']} is not on space {space}")
            for dataset in diagnose["datasets"]:
                _check_dataset(diagnose["benchmark"], dataset, f"estimates.{space}.diagnose.datasets")


def _check_sources_exist(config: dict[str, Any], name: str, settings: dict[str, Any], described: Any) -> None:
    """A benchmark whose store is not built yet needs one configured source that exists: fail
    before any job, naming the keys and how to get the data (NB101's file is never shipped)."""
    from pathlib import Path

    from nasstages.config.layout import Layout

    if Path(Layout(config.get("results", "results")).benchmark_store(name)).exists():
        return  # built: its sources are not read again (the store is verified by preflight)
    configured = {key: settings.get(key) for key in described.source_keys if settings.get(key)}
    if any(Path(str(value)).exists() for value in configured.values()):
        return
    said = ", ".join(f"benchmarks.{name}.{key} = {value}" for key, value in configured.items()) or "none is set"
    raise ConfigError(f"config benchmarks.{name}: no source of {name} exists ({said}; keys: "
                      f"{', '.join(f'benchmarks.{name}.{k}' for k in described.source_keys)}). Fix: "
                      f"{described.download_hint}")


def check_applicable(kind: str, name: str, requires: dict[str, str], space: Any, where: str) -> None:
    """ConfigError saying why ``name`` cannot run on ``space`` if it needs a capability it lacks."""
    missing = [why for capability, why in requires.items() if capability not in space.capabilities]
    if missing:
        raise ConfigError(f"config {where}: {kind} {name!r} cannot run on space {space.name!r}: {'; '.join(missing)}. "
                          f"Remove it there (search.benchmarks.<benchmark>.methods lists the methods per benchmark)")


def check_config(config: dict[str, Any]) -> None:
    """Raise ConfigError naming the key and the fix for the first semantic mistake found."""
    for name, settings in config.get("benchmarks", {}).items():
        described = plugin(name, f"benchmarks.{name}")
        if described.trained:
            _check_trained_benchmark(config, name)
        elif set(settings or {}) - set(described.source_keys):
            raise ConfigError(f"config benchmarks.{name}: {name} takes only {' and '.join(described.source_keys)}, not "
                              f"{', '.join(sorted(set(settings) - set(described.source_keys)))}")
        elif described.sources_checked_early:
            _check_sources_exist(config, name, settings or {}, described)
    for space, pools in config.get("pools", {}).items():
        if space not in SPACES:
            raise ConfigError(f"config pools.{space}: unknown search space; choose one of: {', '.join(SPACES)}")
        size = get_space(space).size
        for pool, settings in (pools or {}).items():
            if size is not None and int(settings["size"]) > size:
                raise ConfigError(f"config pools.{space}.{pool}.size: {settings['size']} distinct architectures "
                                  f"asked of a space of {size}; ask for at most {size}")
    for space, settings in config.get("distances", {}).items():
        pools = config.get("pools", {}).get(space, {})
        for pool in settings["pools"]:
            if pool not in pools:
                raise ConfigError(f"config distances.{space}.pools: pool {pool!r} is not defined under pools.{space}")
            if settings.get("tiles", 1) > pools[pool]["size"]:
                raise ConfigError(f"config distances.{space}.tiles: more tiles per side than pool {pool!r} has archs")
        for metric, params in settings["metrics"].items():
            DISTANCES.check_params(metric, params or {}, where=f"distances.{space}.metrics.{metric}")
            check_applicable("distance metric", metric, DISTANCES.get(metric).requires, get_space(space),
                             f"distances.{space}.metrics.{metric}")
    search = config.get("search", {})
    for method, params in search.get("methods", {}).items():
        params = dict(params or {})
        if "distance_pool" in params:
            _check_distance_pool(config, method, params)
        params.pop("distance_pool", None)
        if params.get("zs_prefilter"):
            _check_zs_prefilter(config, method, params)
            params["zs_prefilter"] = {k: v for k, v in params["zs_prefilter"].items() if k != "pool"}
        check_method_params(method, params, where=f"search.methods.{method}")
    for benchmark in search.get("benchmarks", {}):
        _check_benchmark(config, benchmark, f"search.benchmarks.{benchmark}")
        for dataset in benchmark_datasets(search, benchmark):
            _check_dataset(benchmark, dataset, f"search.benchmarks.{benchmark}")
        space = get_space(benchmark_space(benchmark))
        budget, size = benchmark_budget(search, benchmark), space.size
        if search.get("query_rule", "string") != "none" and size is not None and budget > size:
            raise ConfigError(f"config search.budget: {budget} queries on {benchmark} cannot all be distinct: its "
                              f"space has {size} architectures; lower the budget (or set query_rule: none)")
        for method in benchmark_methods(search, benchmark):
            if method not in search["methods"]:
                raise ConfigError(f"config search.benchmarks.{benchmark}.methods: {method!r} is not under "
                                  "search.methods; add it there with its parameters")
            check_applicable("method", method, method_class(method, search["methods"][method]).requires, space,
                             f"search.benchmarks.{benchmark}")
            params = search["methods"][method] or {}
            if params.get("candidates") == "all" and not (distance_pool_of(params, benchmark)
                                                          or params.get("distance_matrix")):
                raise ConfigError(f"config search.benchmarks.{benchmark}: method {method!r} scores a matrix's whole "
                                  f"pool (candidates: all) but reads no matrix on {benchmark}; add {benchmark} to "
                                  f"its distance_pool, or leave it out of search.benchmarks.{benchmark}.methods")
    _check_encoders(config)
    _check_predictors(config)
    _check_estimates(config)


