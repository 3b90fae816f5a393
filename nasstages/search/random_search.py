"""Random search: architectures drawn uniformly without replacement (Li & Talwalkar, 2019)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nasstages.benchmarks.base import Evaluation
from nasstages.search.base import Optimizer
from nasstages.spaces import Arch, SearchSpace


class RandomSearch(Optimizer):
    """Uniform sampling; never proposes the same architecture twice."""

    def __init__(self, space: SearchSpace, rng: np.random.Generator) -> None:
        super().__init__(space, rng)
        self._seen: set[Arch] = set()

    def ask(self, n: int) -> list[Arch]:
        return self.space.sample_unique(n, self.rng, seen=self._seen)

    def tell(self, archs: Sequence[Arch], evaluations: Sequence[Evaluation]) -> None:
        """Random search learns nothing from results."""

    def _state(self) -> dict[str, Any]:
        return {"seen": sorted(self.space.to_string(a) for a in self._seen)}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._seen = {self.space.from_string(s) for s in state["seen"]}
