"""Regularized (aging) evolution, Real et al., AAAI 2019, Algorithm 1.

A population of ``population_size`` is first filled with random architectures; then each
cycle samples ``sample_size`` members uniformly, mutates the best of them (by observed
accuracy) and adds the child, removing the *oldest* member rather than the worst.

Under a query rule that forbids repeats, a child the rule forbids is re-mutated from the same
parent (up to ``REMUTATIONS`` times, then a uniform draw), so every query is spent on a new one.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Sequence

import numpy as np

from nasstages.benchmarks.base import Evaluation
from nasstages.errors import ConfigError
from nasstages.search.base import Optimizer
from nasstages.spaces import Arch, SearchSpace

REMUTATIONS = 100  # mutation attempts from one parent before a uniform draw the rule allows


class RegularizedEvolution(Optimizer):
    """Aging evolution with tournament selection and single mutations."""

    def __init__(self, space: SearchSpace, rng: np.random.Generator,
                 population_size: int = 50, sample_size: int = 25) -> None:
        super().__init__(space, rng)
        if population_size < 1 or not 1 <= sample_size <= population_size:
            raise ConfigError(
                f"regularized evolution needs 1 <= sample_size <= population_size, got "
                f"sample_size={sample_size}, population_size={population_size}"
            )
        self.population_size = population_size
        self.sample_size = sample_size
        self._population: deque[tuple[Arch, float]] = deque()
        self._asked = 0

    def ask(self, n: int) -> list[Arch]:
        out: list[Arch] = []
        pending: set = set()
        rule = self.query_rule
        for _ in range(n):
            if self._asked < self.population_size or not self._population:
                child = rule.sample(1, self.rng, pending)[0]
            else:
                members = self.rng.choice(len(self._population), size=min(self.sample_size, len(self._population)),
                                          replace=False)
                parent = max((self._population[int(k)] for k in members), key=lambda item: item[1])[0]
                child = self.space.mutate(parent, self.rng)
                for _attempt in range(REMUTATIONS):
                    if rule.allows(child, pending):
                        break
                    child = self.space.mutate(parent, self.rng)
                else:
                    child = rule.sample(1, self.rng, pending)[0]
                if rule.name != "none":
                    pending.add(rule.key(child))
            out.append(child)
            self._asked += 1
        return out

    def tell(self, archs: Sequence[Arch], evaluations: Sequence[Evaluation]) -> None:
        for arch, evaluation in zip(archs, evaluations):
            self._population.append((arch, evaluation.valid_acc))
            if len(self._population) > self.population_size:
                self._population.popleft()

    def _state(self) -> dict[str, Any]:
        return {
            "asked": self._asked,
            "population": [[self.space.to_string(a), acc] for a, acc in self._population],
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self._asked = int(state["asked"])
        self._population = deque((self.space.from_string(s), float(acc)) for s, acc in state["population"])
