"""NASBOT's evolutionary optimiser of the acquisition (Kandasamy et al., NeurIPS 2018, §4.2).

Settings from the reference code (``kirthevasank/nasbot``):
* budget of acquisition evaluations at BO step t: clip(25 √t, 50, 500)
  (``NASBOT._set_up_acq_opt_ga``: ``lead_const = min(5, dim)**2``, ``dim`` 5 for networks);
* mutants per generation: clip(3 √budget, 5, 100) (``NNDomain._get_ga_optimiser_args``);
* parents drawn with replacement from every point scored so far, with probability ∝
  exp((a − mean a) / (2 std a)) (``ga_optimiser`` with ``sample_according_to_exp_probs``,
  ``fitness_sampler_scaling_const`` 2);
* a mutant takes 1–5 mutation steps with probabilities 0.5, 0.25, 0.125, 0.075, 0.05
  (``ga_mutation_op_distro``); a step is the space's own mutation (NASBOT's network edits do not
  apply to fixed cell spaces);
* the first population is what the BO has evaluated (NASBOT also seeds it with ten fixed
  hand-designed networks, which a cell space has no counterpart of), scored by the acquisition.

The proposal is the best-scored mutant the query rule allows (the top ``n`` for a batch).
"""

from __future__ import annotations

import bisect
import math
from typing import Callable, Sequence

import numpy as np

from nasstages.search.query_rule import QueryRule
from nasstages.spaces import Arch, SearchSpace

STEP_PROBABILITIES = (0.5, 0.25, 0.125, 0.075, 0.05)


_STEP_CDF = np.cumsum(STEP_PROBABILITIES)
_STEP_CDF = tuple(float(c) for c in _STEP_CDF / _STEP_CDF[-1])


def _draw_steps(rng: np.random.Generator) -> int:
    """Mutation steps of one mutant: the draw of ``rng.choice(5, p=STEP_PROBABILITIES) + 1`` (its
    one uniform, its normalized CDF, its right-side search), without that call's 20 µs of checks."""
    return bisect.bisect_right(_STEP_CDF, rng.random()) + 1


def evaluation_budget(step: int) -> int:
    """Acquisition evaluations at BO step ``step`` (≥ 1)."""
    return int(np.clip(25.0 * math.sqrt(max(step, 1)), 50, 500))


def mutants_per_generation(budget: int) -> int:
    return int(np.clip(3.0 * math.sqrt(budget), 5, 100))


def parent_probabilities(values: np.ndarray, scaling: float = 2.0) -> np.ndarray:
    """∝ exp((a − mean) / (scaling · std)); uniform when every value is equal."""
    values = np.asarray(values, dtype=np.float64)
    spread = scaling * values.std()
    if not np.isfinite(spread) or spread <= 0:
        return np.full(len(values), 1.0 / len(values))
    logits = (values - values.mean()) / spread
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


def evolve(space: SearchSpace, population: Sequence[Arch], population_values: np.ndarray,
           score: Callable[[list[Arch]], np.ndarray], n: int, step: int, rng: np.random.Generator,
           rule: QueryRule, allowed: Callable[[Arch], bool] = lambda arch: True) -> tuple[list[Arch], np.ndarray, int]:
    """(the ``n`` best mutants by acquisition, their values, acquisition evaluations spent).

    ``score`` maps architectures to acquisition values (higher is better); ``allowed`` narrows the
    mutants further (e.g. to a distance matrix's pool)."""
    budget = evaluation_budget(step)
    per_generation = mutants_per_generation(budget)
    pool: list[Arch] = list(population)
    values = list(np.asarray(population_values, dtype=np.float64))
    seen = {rule.key(arch) for arch in pool}
    children: list[Arch] = []
    child_values: list[float] = []
    spent = attempts = 0
    while spent < budget and attempts < 20 * budget:
        want = min(per_generation, budget - spent)
        parents = rng.choice(len(pool), size=want, replace=True, p=parent_probabilities(np.array(values)))
        batch: list[Arch] = []
        for p in parents:
            attempts += 1
            child = pool[int(p)]
            for _ in range(_draw_steps(rng)):
                child = space.mutate(child, rng)
            key = rule.key(child)
            if key in seen or not rule.allows_key(key) or not allowed(child):
                continue
            seen.add(key)
            batch.append(child)
        if not batch:
            continue
        scored = np.asarray(score(batch), dtype=np.float64)
        spent += len(batch)
        pool += batch
        values += list(scored)
        children += batch
        child_values += list(scored)
    if not children:
        return [], np.zeros(0), spent
    order = np.argsort(-np.asarray(child_values), kind="stable")[:n]
    return [children[int(i)] for i in order], np.asarray(child_values)[order], spent
