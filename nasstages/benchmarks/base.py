"""The benchmark interface: query an architecture's validation accuracy on a dataset.

Every query names its split, fidelity (epochs) and noise mode, and the evaluation records them,
so that results never mix up validation and test numbers or single-seed and mean values.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from nasstages.spaces import Arch, SearchSpace

NOISE_MODES = ("sample", "mean")


@dataclass(frozen=True)
class Evaluation:
    """One benchmark query's answer.

    ``valid_acc`` is what the searcher observes: one randomly drawn training seed's accuracy
    (noise ``sample``, the standard protocol) or the mean over seeds (noise ``mean``).
    ``cost_s`` is the simulated training time that the query would have cost.
    """

    valid_acc: float
    cost_s: float
    seed_slot: int  # which training seed was drawn; -1 for the mean
    split: str
    epochs: int


class Benchmark(abc.ABC):
    """A source of (noisy) architecture evaluations for one search space."""

    name: str
    space: SearchSpace
    content_sha256: str | None = None  # identifies the data queried, for provenance

    @property
    @abc.abstractmethod
    def datasets(self) -> tuple[str, ...]:
        """The datasets this benchmark can be queried on."""

    @abc.abstractmethod
    def query(self, arch: Arch, dataset: str, rng: np.random.Generator, noise: str = "sample") -> Evaluation:
        """Evaluate ``arch`` on ``dataset``; ``rng`` draws the training seed under noise ``sample``."""

    @abc.abstractmethod
    def mean_valid(self, arch: Arch, dataset: str) -> float:
        """The noise-free validation accuracy (mean over training seeds)."""

    @abc.abstractmethod
    def optimum(self, dataset: str) -> float:
        """The best ``mean_valid`` over the whole space (for regret)."""

    def split(self, dataset: str) -> str:
        """Name of the split that ``valid_acc`` is measured on."""
        return "valid"

    def check_dataset(self, dataset: str) -> None:
        """Raise ConfigError naming the known datasets if ``dataset`` is not one."""
        from nasstages.errors import ConfigError

        if dataset not in self.datasets:
            raise ConfigError(
                f"benchmark {self.name!r} has no dataset {dataset!r}; choose one of: {', '.join(self.datasets)}"
            )
