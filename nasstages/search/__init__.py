"""Search methods (optimizers), registered by the names configs use, and the search runner."""

from __future__ import annotations

from typing import Any

import numpy as np

from nasstages.errors import ConfigError
from nasstages.registry import Registry
from nasstages.search.base import Optimizer
from nasstages.search.evolution import RegularizedEvolution
from nasstages.search.random_search import RandomSearch
from nasstages.spaces import SearchSpace

METHODS: Registry[Optimizer] = Registry("search method")
METHODS.register("rs")(RandomSearch)
METHODS.register("re")(RegularizedEvolution)
# model-based methods import torch / gpytorch: registered lazily so rs and re jobs start fast
METHODS.register_lazy("hotnas", "nasstages.search.kernel_bo:HOTNAS")
METHODS.register_lazy("nasbot", "nasstages.search.kernel_bo:NASBOT")
METHODS.register_lazy("nasbot_otmann", "nasstages.search.kernel_bo:NASBOTOneDistance")
METHODS.register_lazy("bo_edit", "nasstages.search.kernel_bo:BOEdit")
METHODS.register_lazy("twnas", "nasstages.search.kernel_bo:TWNAS")
METHODS.register_lazy("twnas_shared", "nasstages.search.kernel_bo:TWNASShared")
METHODS.register_lazy("twnas_kdpp", "nasstages.search.kernel_bo:TWNASkDPP")
METHODS.register_lazy("twnas_kdpp_corr", "nasstages.search.kernel_bo:TWNASkDPPCorrelation")
METHODS.register_lazy("anasod_rs", "nasstages.search.anasod:AnasodRS")
METHODS.register_lazy("anasod_biased_rs", "nasstages.search.anasod:AnasodBiasedRS")
METHODS.register_lazy("anasod_bo", "nasstages.search.anasod:AnasodBO")
METHODS.register_lazy("bananas", "nasstages.search.bananas:Bananas")
METHODS.register_lazy("bananas_fast", "nasstages.search.bananas:BananasFast")
METHODS.register_lazy("arch2vec_bo", "nasstages.search.arch2vec_search:Arch2vecBO")
METHODS.register_lazy("arch2vec_bo_fast", "nasstages.search.arch2vec_search:Arch2vecBOFast")
METHODS.register_lazy("arch2vec_rl", "nasstages.search.arch2vec_search:Arch2vecRL")
METHODS.register_lazy("arch2vec_rl_ema", "nasstages.search.arch2vec_search:Arch2vecRLEMA")
METHODS.register_lazy("gates_predictor", "nasstages.search.predictor_search:GatesPredictorSearch")

# methods that read a pretrained encoder's embeddings: the workflow passes the file as "embeddings"
ENCODER_OF_METHOD = {"arch2vec_bo": "arch2vec", "arch2vec_bo_fast": "arch2vec", "arch2vec_rl": "arch2vec",
                     "arch2vec_rl_ema": "arch2vec"}


def algorithm_of(name: str, params: dict[str, Any] | None) -> str:
    """The registered method a configured name runs: a variant names it under ``method`` (e.g.
    ``bananas_zs: {method: bananas, zs_prefilter: {...}}``, so both run side by side); else the name."""
    algorithm = (params or {}).get("method", name)
    if algorithm != name and name in METHODS.names():
        raise ConfigError(f"method {name!r} is a built-in method; give the {algorithm} variant another name")
    return algorithm


def method_class(name: str, params: dict[str, Any] | None) -> type[Optimizer]:
    return METHODS.get(algorithm_of(name, params))


def check_method_params(method: str, params: dict[str, Any], where: str = "") -> None:
    """Raise ConfigError if ``method`` is unknown or ``params`` holds a parameter it does not accept."""
    rest = {k: v for k, v in params.items() if k != "method"}
    METHODS.check_params(algorithm_of(method, params), rest, where)


def make_optimizer(method: str, space: SearchSpace, rng: np.random.Generator, params: dict[str, Any]) -> Optimizer:
    """Build method ``method`` (or the variant's ``method``) with ``params`` (checked by :func:`check_method_params`)."""
    check_method_params(method, params)
    rest = {k: v for k, v in params.items() if k != "method"}
    return method_class(method, params)(space, rng, **rest)


__all__ = ["ENCODER_OF_METHOD", "METHODS", "Optimizer", "algorithm_of", "check_method_params", "make_optimizer",
           "method_class"]
