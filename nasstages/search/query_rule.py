"""The query rule: which proposals a search may spend a query on, the same for every method.

A comparison is only fair if every method lives under one rule of what counts as a new query
(issue 22): random search without replacement while evolution re-queries freely makes the
budgets unequal. The runner owns one :class:`QueryRule` per run, shows it to the optimizer (whose
generators use it to avoid proposing what it forbids) and enforces it on every proposal.

* ``string`` (default): no query on a cell string already queried (standard random search
  without replacement; architectures differing only in dead edges are distinct).
* ``iso``: no query on an architecture equivalent to one already queried, where equivalence is
  equality of ``SearchSpace.canonicalize`` (dead parts pruned, interchangeable nodes ordered:
  the equivalence the distances are computed on).
* ``none``: repeats allowed; each is a query and counted in the budget.
"""

from __future__ import annotations

from typing import Hashable, Iterable

import numpy as np

from nasstages.errors import ConfigError
from nasstages.spaces import Arch, SearchSpace

QUERY_RULES = {
    "string": "no query on a cell string already queried",
    "iso": "no query on an architecture whose canonical form (dead parts pruned, interchangeable "
           "nodes ordered) was already queried",
    "none": "repeated architectures allowed, each counted as a query",
}


class QueryRule:
    """What has been queried in one run, and whether a proposal may be queried next."""

    def __init__(self, name: str, space: SearchSpace) -> None:
        if name not in QUERY_RULES:
            raise ConfigError(f"unknown query rule {name!r}: use one of {sorted(QUERY_RULES)} (search.query_rule)")
        self.name, self.space = name, space
        self.queried: set[Hashable] = set()
        self.replacements = 0  # proposals the runner rejected and had the method replace

    @property
    def equivalence(self) -> str:
        return QUERY_RULES[self.name]

    def key(self, arch: Arch) -> Hashable:
        """The identity under this rule (``none`` and ``string``: the cell string)."""
        if self.name == "iso":
            return self.space.to_string(self.space.canonicalize(arch))
        return self.space.to_string(arch)

    def allows(self, arch: Arch, pending: set[Hashable] | None = None) -> bool:
        """True if ``arch`` may be queried now (``pending``: keys already proposed this batch)."""
        return self.name == "none" or self.allows_key(self.key(arch), pending)

    def allows_key(self, key: Hashable, pending: set[Hashable] | None = None) -> bool:
        """:meth:`allows` for an architecture whose :meth:`key` is already known."""
        return self.name == "none" or (key not in self.queried and (pending is None or key not in pending))

    def record(self, archs: Iterable[Arch]) -> None:
        """Mark ``archs`` as queried."""
        if self.name != "none":
            self.queried.update(self.key(a) for a in archs)

    def sample(self, n: int, rng: np.random.Generator, pending: set[Hashable] | None = None) -> list[Arch]:
        """``n`` uniform draws that the rule allows, distinct from each other unless the rule is
        ``none``; their keys are added to ``pending``."""
        if self.name == "none":
            return [self.space.sample(rng) for _ in range(n)]
        pending = set() if pending is None else pending
        try:
            out = self.space.sample_unique(n, rng, by=self.key, seen=self.queried | pending)
        except ValueError:
            raise ConfigError(f"space {self.space.name!r} has no architecture left that the "
                              f"{self.name!r} query rule allows: lower the budget") from None
        pending.update(self.key(a) for a in out)
        return out

    def record_of(self) -> dict[str, object]:
        """The rule as a run's JSON records it."""
        return {"query_rule": self.name, "equivalence": self.equivalence, "replacements": self.replacements}
