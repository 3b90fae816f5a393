"""Every parameter value is checked with the config, before any job: types, ranges, choices, and
budgets against the space's size, each failing in one line that names the key."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from nasstages.config import check_config
from nasstages.errors import ConfigError

BASE = yaml.safe_load((REPO / "config.yaml").read_text())


def _with(change) -> dict:
    config = copy.deepcopy(BASE)
    change(config)
    return config


@pytest.mark.parametrize("change, message", [
    (lambda c: c["search"]["methods"]["re"].update(population_size="ten"),
     "search.methods.re: search method 're' parameter population_size='ten': must be an integer"),
    (lambda c: c["search"]["methods"]["re"].update(population_size=-3),
     "search.methods.re: search method 're' parameter population_size=-3: must be at least 1"),
    (lambda c: c["distances"]["nb201"]["metrics"]["anasod"].update(norm="l3"),
     "distances.nb201.metrics.anasod: distance metric 'anasod' parameter norm='l3': choose one of: l1, l2"),
    (lambda c: c["distances"]["nb201"]["metrics"]["hotnn"].update(epsilon=1.5),
     "parameter epsilon=1.5: must lie in [0.0, 1.0]"),
    (lambda c: c["search"]["methods"]["hotnas"].update(psd_scope="everything"),
     "parameter psd_scope='everything': choose one of: anchored, joint, train"),
    (lambda c: c["search"]["methods"]["hotnas"].update(beta_scale="big"),
     "parameter beta_scale='big': must be a number"),
    (lambda c: c.update(predictors={"nb201": {"datasets": ["cifar10-valid"], "models": {"g": {}}, "proportion": [0.1]}}),
     "predictors.nb201: predictor evaluation: unknown key(s) ['proportion']; accepted: ['models', 'proportions',"),
    (lambda c: c.update(predictors={"nb201": {"datasets": ["cifar10-valid"],
                                              "models": {"t": {"encoder": "tagates", "update_scale": 0}}}}),
     "predictors.nb201: predictor evaluation model 't': predictor steps must be >= 1, symmetry_breaking >= 0 and "
     "update_scale > 0"),
    (lambda c: c["search"].update(budget=100000),
     "search.budget: 100000 queries on nb201 cannot all be distinct: its space has 15625 architectures"),
])
def test_a_bad_value_fails_the_config_check_naming_the_key(change, message):
    check_config(copy.deepcopy(BASE))  # the default config passes
    with pytest.raises(ConfigError) as error:
        check_config(_with(change))
    assert message in str(error.value)


def test_repeats_allowed_lift_the_budget_bound():
    check_config(_with(lambda c: c["search"].update(budget=100000, query_rule="none")))


def test_sample_refuses_an_empty_pool(tmp_path):
    run = subprocess.run([sys.executable, "-m", "nasstages", "sample", "--space", "nb201", "--name", "p",
                          "--size", "0", "--out", str(tmp_path / "p.h5")], capture_output=True, text=True)
    assert run.returncode == 2 and "--size must be at least 1" in run.stderr
    assert not (tmp_path / "p.h5").exists()


def test_a_whole_space_variant_on_a_benchmark_without_its_matrix_fails_early():
    def run_everything_on_nb201(c):
        c["search"]["benchmarks"]["nb201"] = ["cifar10-valid"]  # a bare list: every configured method
    with pytest.raises(ConfigError, match="method 'bo_edit_whole' scores a matrix's whole pool .* reads no matrix on nb201"):
        check_config(_with(run_everything_on_nb201))


def test_a_pool_larger_than_its_space_fails_early():
    with pytest.raises(ConfigError, match=r"pools.tnb101_macro.all.size: 5000 distinct architectures asked of a "
                                          r"space of 3256; ask for at most 3256"):
        check_config(_with(lambda c: c["pools"]["tnb101_macro"]["all"].update(size=5000)))


def test_every_command_checks_its_output_folder_before_working(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    run = subprocess.run([sys.executable, "-m", "nasstages", "sample", "--space", "nb201", "--name", "p",
                          "--size", "5", "--out", str(blocker / "p.h5")], capture_output=True, text=True)
    assert run.returncode == 2
    assert f"sample: cannot write to {blocker}" in run.stderr and "choose a writable output folder" in run.stderr


def test_a_search_job_reads_the_files_the_layout_names():
    """search_inputs derives each job's extra inputs from the plugin's space, the method's registry
    entries and the config, and the paths are the layout's (the rules and the preflight use it too)."""
    from nasstages.config import Layout, search_inputs, search_job_params

    config = yaml.safe_load((REPO / "configs" / "nb201_estimators.yaml").read_text())
    config = {**BASE, **config, "results": "out"}
    layout = Layout("out")
    whole = search_inputs(BASE | {"results": "out"}, "tnb101_macro", "hotnas_whole")
    assert whole.matrix == layout.matrix("tnb101_macro", "hotnn", "all") == "out/distances/tnb101_macro/hotnn/all.h5"
    assert whole.embeddings is None and whole.proxy_scores is None
    params = search_job_params(BASE | {"results": "out"}, "tnb101_macro", "hotnas_whole")
    assert params["distance_matrix"] == whole.matrix and "distance_pool" not in params
    assert search_inputs(BASE | {"results": "out"}, "nb201", "rs") == type(whole)()  # reads nothing else

    prefiltered = search_inputs(config, "nb201", "bananas_zs")
    assert prefiltered.proxy_scores == layout.estimates("nb201", "synflow", "all")
    scores = search_job_params(config, "nb201", "bananas_zs")["zs_prefilter"]
    assert scores["scores"] == prefiltered.proxy_scores and "pool" not in scores
