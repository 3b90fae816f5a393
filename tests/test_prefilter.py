"""zs_prefilter: candidate pools ranked by a zero-shot proxy, from the estimate store or on the fly."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from nasstages.config import check_config as validate_config
from nasstages.errors import ConfigError
from nasstages.evaluators.estimates import write_estimates
from nasstages.evaluators.model import count_parameters
from nasstages.evaluators.nb201_network import NB201Network
from nasstages.search import make_optimizer
from nasstages.search.prefilter import ZeroShotPrefilter, make_prefilter
from nasstages.search.runner import SearchJob, run_search
from nasstages.spaces import get_space

SPACE = get_space("nb201")


def _archs(n: int, seed: int = 0) -> list:
    return SPACE.sample_unique(n, np.random.default_rng(seed), by="arch")


def test_keeps_the_best_fraction_by_stored_scores_in_pool_order(tmp_path):
    archs = _archs(10)
    scores = np.array([3.0, 9.0, 1.0, 7.0, np.nan, 8.0, 2.0, 0.0, 5.0, 4.0])
    path = tmp_path / "scores.h5"
    write_estimates(path, [SPACE.to_string(a) for a in archs], scores, {"proxy": "synflow", "data": "x"})
    prefilter = ZeroShotPrefilter(SPACE, np.random.default_rng(0), "synflow", keep=0.3, scores=str(path))
    assert prefilter(list(archs)) == [archs[1], archs[3], archs[5]]  # 9, 7, 8: pool order kept
    assert prefilter(list(archs[:3])) == [archs[1]]                  # ceil(0.3 * 3) = 1
    assert prefilter([archs[4], archs[7]]) == [archs[7]]             # unscorable (NaN) ranks last
    assert prefilter.computed == 0
    with pytest.raises(ConfigError, match="'synflow' scores, not"):
        ZeroShotPrefilter(SPACE, np.random.default_rng(0), "params", keep=0.3, scores=str(path))


def test_on_the_fly_scores_are_the_proxy_of_the_built_network():
    archs = _archs(6, seed=1)
    prefilter = make_prefilter(SPACE, np.random.default_rng(0), {"proxy": "params", "keep": 0.5})
    expected = [count_parameters(NB201Network(a)) for a in archs]
    assert prefilter.scores(archs).tolist() == expected and prefilter.computed == 6
    kept = prefilter(list(archs))
    assert sorted(expected[archs.index(a)] for a in kept) == sorted(expected)[-3:]
    prefilter(list(archs))
    assert prefilter.computed == 6  # cached


@pytest.mark.parametrize("settings, message", [
    ({"proxy": "zen", "keep": 0.5}, "unknown proxy 'zen'"),
    ({"proxy": "params", "keep": 0}, "keep must be a fraction"),
    ({"proxy": "naswot", "keep": 0.5}, "needs data"),
    ({"proxy": "params", "keep": 0.5, "pool": "p"}, r"unknown key\(s\) \['pool'\]"),
    ({"keep": 0.5}, "give {proxy"),
])
def test_bad_prefilter_settings_name_the_fix(settings, message):
    with pytest.raises(ConfigError, match=message):
        make_prefilter(SPACE, np.random.default_rng(0), settings)


def test_prefiltered_bananas_proposes_larger_networks_under_the_params_proxy(nb201_bench, tmp_path):
    """With keep = 10% by #params, every model-based proposal comes from the largest tenth of its
    pool, so the proposals are larger networks than plain BANANAS's (same seed)."""
    sizes = {}
    for name, extra in (("plain", {}), ("zs", {"zs_prefilter": {"proxy": "params", "keep": 0.1}})):
        params = {"n_init": 5, "members": 2, "epochs": 10, "pool_mutations": 40, **extra}
        job = SearchJob("nb201", "cifar10-valid", "bananas", seed=0, budget=15, params=params)
        out = run_search(job, nb201_bench, tmp_path / f"{name}.csv", show_progress=False)
        proposed = [SPACE.from_string(s) for s in __import__("pandas").read_csv(out)["arch"][5:]]
        sizes[name] = np.mean([count_parameters(NB201Network(a)) for a in proposed])
    assert sizes["zs"] > sizes["plain"], sizes


def _config_with(method_params: dict, estimates: dict | None = None) -> dict:
    config = {"results": "results", "seed": 0,
              "benchmarks": {"nb201": {"mirror": "../shared/benchmarks/nb201", "official": None}},
              "pools": {"nb201": {"p": {"size": 20, "dedup": "iso"}}},
              "search": {"budget": 5, "seeds": 1, "benchmarks": {"nb201": ["cifar10-valid"]},
                         "methods": {"rs": {}, **method_params}}}
    if estimates:
        config["estimates"] = {"nb201": estimates}
    return config


@pytest.mark.parametrize("methods, estimates, message", [
    ({"re_zs": {"method": "re", "zs_prefilter": {"proxy": "params", "keep": 0.5}}}, None, "no mutation candidate pool"),
    ({"bananas_zs": {"method": "bananas", "zs_prefilter": {"proxy": "synflow", "keep": 0.5, "pool": "p"}}},
     {"pools": ["p"], "proxies": ["params"]}, "add 'p' to estimates.nb201.pools and 'synflow'"),
    ({"bananas_zs": {"method": "bananas", "zs_prefilter": {"proxy": "snip", "keep": 0.5}}}, None, "needs data"),
    ({"rs": {"method": "re"}}, None, "built-in method"),
    ({"bananas_zs": {"method": "banana"}}, None, "unknown search method 'banana'"),
])
def test_bad_prefilter_configs_fail_before_any_job(methods, estimates, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(_config_with(methods, estimates))


def test_a_good_prefilter_config_validates_and_keeps_the_pool_for_the_workflow():
    config = _config_with({"bananas_zs": {"method": "bananas", "zs_prefilter": {"proxy": "synflow", "keep": 0.5,
                                                                                "pool": "p"}}},
                          {"pools": ["p"], "proxies": ["synflow"]})
    before = copy.deepcopy(config)
    validate_config(config)
    assert config == before
    optimizer = make_optimizer("bananas_zs", SPACE, np.random.default_rng(0),
                               {"method": "bananas", "zs_prefilter": {"proxy": "synflow", "keep": 0.5}})
    assert optimizer.prefilter.keep == 0.5
