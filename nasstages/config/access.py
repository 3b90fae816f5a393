"""What the Snakefile and the checks read from a config: the search grid per benchmark, seeds,
budgets, which pool a method's matrix comes from, a benchmark's space (from its plugin)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nasstages.benchmarks import BENCHMARKS, plugin, plugins
from nasstages.encoders import PRETRAINED_ENCODERS
from nasstages.search import ENCODER_OF_METHOD

#: the pretrained encoders a config may name (``encoders.<space>.<name>``), from their registry
ENCODER_NAMES = tuple(sorted(PRETRAINED_ENCODERS))


def benchmark_space(benchmark: str) -> str:
    """The search space of a registered benchmark (its plugin's), else the name itself."""
    return plugin(benchmark).space if benchmark in BENCHMARKS else benchmark


def trained_benchmarks() -> tuple[str, ...]:
    """Benchmarks whose queries train networks (their own search rule, training protocols, evaluate stage)."""
    return tuple(p.name for p in plugins() if p.trained)


def encoder_spaces(config: dict[str, Any], encoder: str) -> set[str]:
    """Spaces for which ``encoder`` is configured under ``encoders``."""
    return {space for space, settings in config.get("encoders", {}).items() if encoder in (settings or {})}


def matrix_metric(cls: type, params: dict[str, Any] | None) -> str | None:
    """The metric of the matrix a method configured with ``params`` reads (a distance BO's own, or
    the stacked one its kernel needs); None for a method that reads no distances."""
    if hasattr(cls, "metric_for"):
        return cls.metric_for(params)
    return getattr(cls, "metric", None)


def distance_pool_of(params: dict[str, Any] | None, benchmark: str) -> str | None:
    """The pool whose precomputed matrix a method reads on ``benchmark``: ``distance_pool: P`` for
    every benchmark, ``{benchmark: P}`` for those listed (others compute distances on the fly)."""
    pool = (params or {}).get("distance_pool")
    return pool.get(benchmark) if isinstance(pool, dict) else pool


def benchmark_datasets(search: dict[str, Any], benchmark: str) -> list[str]:
    """The datasets (tasks) to search on ``benchmark``."""
    entry = search["benchmarks"][benchmark]
    return list(entry["datasets"] if isinstance(entry, dict) else entry)


def benchmark_methods(search: dict[str, Any], benchmark: str) -> list[str]:
    """The methods to run on ``benchmark``: its own list, else every configured method."""
    entry = search["benchmarks"][benchmark]
    return list(entry.get("methods") or search["methods"]) if isinstance(entry, dict) else list(search["methods"])


def benchmark_budget(search: dict[str, Any], benchmark: str) -> int:
    """Queries per run on ``benchmark``: its own budget, else the common one."""
    entry = search["benchmarks"][benchmark]
    return int(entry.get("budget", search["budget"])) if isinstance(entry, dict) else int(search["budget"])


def seeds_of(search: dict[str, Any]) -> list[int]:
    """The seeds to run: ``seeds: N`` means 0..N-1, a list means exactly those."""
    seeds = search["seeds"]
    return list(range(seeds)) if isinstance(seeds, int) else sorted(set(int(s) for s in seeds))


#: keys of ``predictors.<benchmark>`` that say where and how a job runs, not what it computes
PREDICTOR_JOB_KEYS = ("datasets", "device", "threads")


def predictor_evaluation_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``predictors.<benchmark>`` without its job keys: what ``nasstages predictors evaluate`` is
    passed (the rule's rerun trigger) and what the config check validates, from one list."""
    return {k: v for k, v in settings.items() if k not in PREDICTOR_JOB_KEYS}


@dataclass(frozen=True)
class SearchInputs:
    """The stage files one (benchmark, method) search job reads beside its benchmark store, each
    ``None`` when the method does not read it: a pretrained encoder's embeddings, a precomputed
    distance matrix, a zero-shot proxy's scores."""

    embeddings: str | None = None
    matrix: str | None = None
    proxy_scores: str | None = None


def search_inputs(config: dict[str, Any], benchmark: str, method: str) -> SearchInputs:
    """What ``method`` needs on ``benchmark``, from the declarations that own each piece: the
    benchmark plugin's search space, the method's encoder and metric (its registry entries), the
    config's ``distance_pool`` and ``zs_prefilter.pool``; paths from the results layout."""
    from nasstages.config.layout import Layout
    from nasstages.search import algorithm_of, method_class

    layout = Layout(config["results"])
    params = config["search"]["methods"][method] or {}
    space = benchmark_space(benchmark)
    encoder = ENCODER_OF_METHOD.get(algorithm_of(method, params))
    pool = distance_pool_of(params, benchmark)
    prefilter = params.get("zs_prefilter") or {}
    return SearchInputs(
        embeddings=layout.encoder(space, encoder) if encoder else None,
        matrix=layout.matrix(space, matrix_metric(method_class(method, params), params), pool) if pool else None,
        proxy_scores=layout.estimates(space, prefilter["proxy"], prefilter["pool"]) if prefilter.get("pool") else None,
    )


def search_job_params(config: dict[str, Any], benchmark: str, method: str) -> dict[str, Any]:
    """The method's parameters as its search job gets them: the config's, with the workflow's own
    keys (``distance_pool``, ``zs_prefilter.pool``) replaced by the files they name."""
    inputs = search_inputs(config, benchmark, method)
    params = dict(config["search"]["methods"][method] or {})
    params.pop("distance_pool", None)
    if inputs.embeddings:
        params["embeddings"] = inputs.embeddings
    if inputs.matrix:
        params["distance_matrix"] = inputs.matrix
    if params.get("zs_prefilter"):
        params["zs_prefilter"] = {k: v for k, v in params["zs_prefilter"].items() if k != "pool"}
        if inputs.proxy_scores:
            params["zs_prefilter"]["scores"] = inputs.proxy_scores
    return params
