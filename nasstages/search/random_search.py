"""Random search: architectures drawn uniformly (Li & Talwalkar, 2019), without replacement under
the run's query rule (``string`` by default: the standard random search)."""

from __future__ import annotations

from typing import Any, Sequence

from nasstages.benchmarks.base import Evaluation
from nasstages.search.base import Optimizer
from nasstages.spaces import Arch


class RandomSearch(Optimizer):
    """Uniform sampling of what the query rule allows (its ``queried`` set is the "without replacement")."""

    def ask(self, n: int) -> list[Arch]:
        return self.query_rule.sample(n, self.rng)

    def tell(self, archs: Sequence[Arch], evaluations: Sequence[Evaluation]) -> None:
        """Random search learns nothing from results."""

    def _state(self) -> dict[str, Any]:
        return {}  # what was queried is the runner's (rebuilt from the log on resume)

    def _load_state(self, state: dict[str, Any]) -> None:
        pass
