"""The optimizer interface every search method implements: ask for architectures, be told results.

The search loop, budget accounting, logging and checkpointing live once, in
:mod:`nasstages.search.runner`; an optimizer only proposes and learns. It sees the observed
(noisy) validation accuracy, never the benchmark's mean.
"""

from __future__ import annotations

import abc
from typing import Any, Hashable, Sequence

import numpy as np

from nasstages.benchmarks.base import Evaluation
from nasstages.search.query_rule import QueryRule
from nasstages.spaces import Arch, SearchSpace


class Optimizer(abc.ABC):
    """Base class: ``ask(n)`` proposes, ``tell`` reports, ``state_dict`` checkpoints.

    The runner also reads three declared hooks, each with a neutral default: ``batch_size``
    (queries per ``ask``; None: the job's), ``proposal_info`` (after ``ask``: one dict per proposed
    architecture with ``predicted_acc``, ``predicted_std``, ``surrogate_s``; empty: no model
    predictions) and :meth:`summary` (facts for the run's JSON record).

    The runner sets ``query_rule`` (:mod:`nasstages.search.query_rule`) before the first ``ask``:
    a method's generators consult it so that what they propose is allowed, and a proposal the
    rule still rejects (e.g. a duplicate inside a batch) is handed to :meth:`replace`.
    """

    #: space capabilities this method needs (see ``SearchSpace.capabilities``) -> why
    requires: dict[str, str] = {}
    #: architectures per ask (a method's own batch, e.g. a k-DPP); None: the job's batch_size
    batch_size: int | None = None

    def __init__(self, space: SearchSpace, rng: np.random.Generator) -> None:
        self.space = space
        self.rng = rng
        self.proposal_info: list[dict[str, float]] = []
        self.query_rule = QueryRule("string", space)

    def replace(self, rejected: Arch, pending: set[Hashable]) -> Arch:
        """An allowed architecture instead of ``rejected`` (``pending``: keys already proposed this
        batch). Default: a uniform draw the rule allows; methods with a better next choice override."""
        return self.query_rule.sample(1, self.rng, pending)[0]

    def summary(self) -> dict[str, Any]:
        """Facts about the finished run for its JSON record (surrogate repairs, final β, ...)."""
        return {}

    @abc.abstractmethod
    def ask(self, n: int) -> list[Arch]:
        """The next ``n`` architectures to evaluate."""

    @abc.abstractmethod
    def tell(self, archs: Sequence[Arch], evaluations: Sequence[Evaluation]) -> None:
        """Results of evaluating ``archs`` (in the order asked)."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state, enough to resume exactly (includes the RNG)."""
        return {"rng": self.rng.bit_generator.state, **self._state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`."""
        self.rng.bit_generator.state = state["rng"]
        self._load_state(state)

    @abc.abstractmethod
    def _state(self) -> dict[str, Any]:
        """The optimizer's own state (archs as strings)."""

    @abc.abstractmethod
    def _load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`_state`."""


class HistoryOptimizer(Optimizer):
    """An optimizer whose whole state is what it evaluated and observed (model-based methods that
    refit from scratch each round): ``self.archs``, ``self.observed``, checkpointed as strings."""

    def __init__(self, space: SearchSpace, rng: np.random.Generator) -> None:
        super().__init__(space, rng)
        self.archs: list[Arch] = []
        self.observed: list[float] = []

    def tell(self, archs: Sequence[Arch], evaluations: Sequence[Evaluation]) -> None:
        self.archs += list(archs)
        self.observed += [e.valid_acc for e in evaluations]

    def _state(self) -> dict[str, Any]:
        return {"archs": [self.space.to_string(a) for a in self.archs], "observed": self.observed}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.archs = [self.space.from_string(s) for s in state["archs"]]
        self.observed = list(state["observed"])
