"""The distance interface: ``pairwise(archs_a, archs_b)`` -> matrix, parameters hashed for staleness.

Distances are computed on each architecture's canonical representative
(:meth:`SearchSpace.canonicalize`), so architectures that differ only in dead parts or in the
order of interchangeable nodes are at distance 0 and are solved once (``canonical``). Embedding
distances are the exception: they read the vector stored for each cell string, as its encoder saw it.
"""

from __future__ import annotations

import abc
from typing import Any, Sequence

import numpy as np

from nasstages.provenance import config_hash
from nasstages.spaces import Arch, SearchSpace


class Distance(abc.ABC):
    """A pairwise architecture distance with named, hashable parameters."""

    name: str = ""
    #: its solver uses several threads (numba ``prange``): a tile job of it gets the configured threads
    multithreaded: bool = False
    #: space capabilities this metric needs (see ``SearchSpace.capabilities``) -> why
    requires: dict[str, str] = {}
    #: computed on canonical representatives: cells that differ only in dead parts are at distance 0
    canonical: bool = True

    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """Every parameter that changes the values (recorded in outputs; a change makes them stale)."""

    def params_hash(self) -> str:
        return config_hash({"metric": self.name, "space": self.space.name, **self.params()})

    @abc.abstractmethod
    def pairwise(self, archs_a: Sequence[Arch], archs_b: Sequence[Arch] | None = None) -> np.ndarray:
        """Distances between every a and every b (float64); ``archs_b=None`` means a×a."""


def unique_index(keys: Sequence[Any]) -> tuple[list[Any], np.ndarray]:
    """(unique keys in first-seen order, index of each key into them)."""
    position: dict[Any, int] = {}
    index = np.empty(len(keys), dtype=np.int64)
    for k, key in enumerate(keys):
        index[k] = position.setdefault(key, len(position))
    return list(position), index


class FeatureDistance(Distance):
    """A distance that is a norm between per-architecture feature vectors (cheap, exact)."""

    metric: str = "cityblock"

    @abc.abstractmethod
    def features(self, archs: Sequence[Arch]) -> np.ndarray:
        """(len(archs), d) feature matrix of canonical representatives."""

    def memoized_features(self, archs: Sequence[Arch]) -> np.ndarray:
        """:meth:`features`, each architecture's vector computed once per instance (a BO run asks
        for the same observed architectures every round)."""
        memo = self.__dict__.setdefault("_feature_memo", {})
        keys = [self.space.to_string(a) for a in archs]
        fresh = {key: arch for key, arch in zip(keys, archs) if key not in memo}
        if fresh:
            memo.update(zip(fresh, self.features(list(fresh.values()))))
        return np.array([memo[key] for key in keys])

    def pairwise(self, archs_a: Sequence[Arch], archs_b: Sequence[Arch] | None = None) -> np.ndarray:
        from scipy.spatial.distance import cdist  # ~0.2 s of import: only where a feature distance runs

        fa = self.memoized_features(archs_a)
        fb = fa if archs_b is None else self.memoized_features(archs_b)
        out = cdist(fa, fb, metric=self.metric)
        if archs_b is None:
            np.fill_diagonal(out, 0.0)
        return out
