"""Search methods (optimizers), registered by the names configs use, and the search runner."""

from __future__ import annotations

from typing import Any

import numpy as np

from nasstages.registry import Registry
from nasstages.search.base import Optimizer
from nasstages.search.anasod import AnasodBiasedRS, AnasodBO, AnasodRS
from nasstages.search.bananas import Bananas
from nasstages.search.evolution import RegularizedEvolution
from nasstages.search.kernel_bo import HOTNAS, NASBOT, TWNAS, BOEdit, TWNASkDPP
from nasstages.search.random_search import RandomSearch
from nasstages.spaces import SearchSpace

METHODS: Registry[Optimizer] = Registry("search method")
METHODS.register("rs")(RandomSearch)
METHODS.register("re")(RegularizedEvolution)
METHODS.register("hotnas")(HOTNAS)
METHODS.register("nasbot")(NASBOT)
METHODS.register("bo_edit")(BOEdit)
METHODS.register("twnas")(TWNAS)
METHODS.register("twnas_kdpp")(TWNASkDPP)
METHODS.register("anasod_rs")(AnasodRS)
METHODS.register("anasod_biased_rs")(AnasodBiasedRS)
METHODS.register("anasod_bo")(AnasodBO)
METHODS.register("bananas")(Bananas)


def check_method_params(method: str, params: dict[str, Any], where: str = "") -> None:
    """Raise ConfigError if ``method`` is unknown or ``params`` holds a parameter it does not accept."""
    METHODS.check_params(method, params, where)


def make_optimizer(method: str, space: SearchSpace, rng: np.random.Generator, params: dict[str, Any]) -> Optimizer:
    """Build method ``method`` with ``params`` (checked by :func:`check_method_params`)."""
    check_method_params(method, params)
    return METHODS.get(method)(space, rng, **params)


__all__ = ["METHODS", "Optimizer", "check_method_params", "make_optimizer"]
