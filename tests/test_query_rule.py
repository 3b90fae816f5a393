"""The query protocol: every registered method, under every rule, spends each query as the rule says."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from nasstages.errors import ConfigError
from nasstages.search import METHODS
from nasstages.search.query_rule import QUERY_RULES, QueryRule
from nasstages.search.runner import SearchJob, run_search
from nasstages.spaces import get_space

SPACE = get_space("nb201")
# small settings so each method reaches its model-based phase within the budget
FAST = {"bananas": {"epochs": 20}, "gates_predictor": {"epochs": 3, "min_steps": 10, "hidden": 16},
        "arch2vec_bo": {"epochs": 30, "n_init": 8}, "anasod_bo": {"n_init": 8}}
BUDGET = 30


def _params(method: str, embeddings) -> dict:
    params = dict(FAST.get(method, {}))
    if method.startswith("arch2vec"):
        params["embeddings"] = str(embeddings)
    if method in ("hotnas", "nasbot", "bo_edit", "twnas", "twnas_shared", "twnas_kdpp", "twnas_kdpp_corr"):
        params.update(n_init=8, pool_mutations=20, pool_random=10)
    return params


@pytest.mark.parametrize("rule", sorted(QUERY_RULES))
@pytest.mark.parametrize("method", sorted(METHODS.names()))
def test_every_method_keeps_the_query_rule(method, rule, nb201_bench, one_hot_embeddings, tmp_path):
    job = SearchJob("nb201", "cifar10-valid", method, 3, BUDGET, query_rule=rule, batch_size=2,
                    params=_params(method, one_hot_embeddings))
    out = tmp_path / "seed3.csv"
    run_search(job, nb201_bench, out, show_progress=False)
    log = pd.read_csv(out)
    assert len(log) == BUDGET and list(log["step"]) == list(range(1, BUDGET + 1))
    archs = [SPACE.from_string(s) for s in log["arch"]]
    if rule == "string":
        assert log["arch"].is_unique
    elif rule == "iso":
        assert len({SPACE.canonicalize(a) for a in archs}) == BUDGET
    protocol = json.loads(out.with_suffix(".json").read_text())["protocol"]
    assert protocol["query_rule"] == rule and protocol["equivalence"] == QUERY_RULES[rule]
    assert protocol["replacements"] >= 0 and protocol["budget"] == BUDGET


def test_rule_rejects_repeats_and_unknown_names():
    rule = QueryRule("iso", SPACE)
    a = SPACE.from_string("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    dead = SPACE.from_string("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    assert SPACE.canonicalize(a) == SPACE.canonicalize(dead) and a != dead  # node 2 feeds nothing in both
    rule.record([a])
    assert not rule.allows(dead)
    assert QueryRule("string", SPACE).allows(dead)
    with pytest.raises(ConfigError, match="query rule"):
        QueryRule("isomorphism", SPACE)


def test_evolution_requeries_only_when_allowed(nb201_bench, tmp_path):
    """Regularized evolution re-queries freely under ``none`` (as published) and never under ``string``."""
    repeats = {}
    for rule in ("none", "string"):
        out = tmp_path / rule / "seed0.csv"
        run_search(SearchJob("nb201", "cifar10-valid", "re", 0, 150, query_rule=rule,
                             params={"population_size": 20, "sample_size": 5}), nb201_bench, out, show_progress=False)
        log = pd.read_csv(out)
        repeats[rule] = len(log) - log["arch"].nunique()
        assert json.loads(out.with_suffix(".json").read_text())["protocol"]["query_rule"] == rule
    assert repeats["string"] == 0 and repeats["none"] > 0
