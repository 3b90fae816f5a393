"""Benchmarks as plugins: every registered plugin is consistent, config checks and the fetch command
read them from the registry, and the README's worked example (nb201_12ep) runs through the workflow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from nasstages.benchmarks import BENCHMARKS, Sources, fetch_store, load_benchmark, plugin, plugins
from nasstages.config import benchmark_space, check_config, trained_benchmarks
from nasstages.errors import ConfigError
from nasstages.spaces import SPACES


@pytest.mark.parametrize("entry", plugins(), ids=lambda p: p.name)
def test_every_plugin_names_a_registered_space_and_its_own_class(entry):
    assert entry.space in SPACES
    assert entry.name in BENCHMARKS and benchmark_space(entry.name) == entry.space
    assert entry.benchmark_class().name == entry.name  # the class a store is opened with is this benchmark's
    assert callable(entry.builder())
    assert (entry.name in trained_benchmarks()) == entry.trained


@pytest.mark.parametrize("entry", [p for p in plugins() if not p.trained], ids=lambda p: p.name)
def test_config_checks_take_a_tabular_plugins_datasets_and_source_keys(entry, tmp_path):
    search = {"budget": 5, "seeds": 1, "benchmarks": {entry.name: [entry.datasets[0]]}, "methods": {"rs": {}}}
    unset = {key: None for key in entry.source_keys}
    results = str(tmp_path / "results")
    if entry.sources_checked_early:  # data no mirror holds (NB101): a missing source fails before any job
        with pytest.raises(ConfigError, match=f"no source of {entry.name} exists"):
            check_config({"results": results, "benchmarks": {entry.name: unset}, "search": search})
        (tmp_path / "source").write_bytes(b"")
        unset = {key: str(tmp_path / "source") for key in entry.source_keys}
    check_config({"results": results, "benchmarks": {entry.name: unset}, "search": search})
    with pytest.raises(ConfigError, match=f"unknown dataset 'nope' of {entry.name}; choose from: {entry.datasets[0]}"):
        check_config({"results": results, "benchmarks": {entry.name: unset},
                      "search": {**search, "benchmarks": {entry.name: ["nope"]}}})
    with pytest.raises(ConfigError, match=f"{entry.name} takes only"):
        check_config({"benchmarks": {entry.name: {"folder": "x"}}, "search": search})


def test_unknown_benchmark_names_the_registered_ones():
    with pytest.raises(ConfigError, match="unknown benchmark 'nb301'; choose one of: darts, nb101, nb201, nb201_12ep"):
        check_config({"benchmarks": {"nb301": {}}})
    with pytest.raises(ConfigError, match="unknown benchmark 'nb301'"):
        plugin("nb301")


def test_worked_example_store_matches_the_mirror(tmp_path, nb201_mirror):
    """nb201_12ep (README, "Extending"): built by the generic fetch from the real mirror file."""
    out = tmp_path / "nb201_12ep.h5"
    assert fetch_store(Sources("nb201_12ep", mirror=nb201_mirror), out) == "mirror"
    bench = load_benchmark("nb201_12ep", out)
    frame = pd.read_csv(nb201_mirror / "nb201_12ep.csv.gz").set_index("arch_index")
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = bench.space.sample(rng)
        row = frame.loc[bench.space.to_index(arch)]
        assert row["arch_str"] == bench.space.to_string(arch)
        first = bench.query(arch, "cifar100", rng)
        assert first.valid_acc == pytest.approx(row["cifar100_val_acc_12ep"]) and first.epochs == 12
        assert bench.query(arch, "cifar100", rng).valid_acc == first.valid_acc  # one run per cell: deterministic
    assert bench.optimum("cifar10-valid") == pytest.approx(frame["cifar10_val_acc_12ep"].max())
    with pytest.raises(Exception, match="nb201_12ep needs nb201_12ep.csv.gz"):
        fetch_store(Sources("nb201_12ep", mirror=tmp_path), tmp_path / "none.h5")
    assert not (tmp_path / "none.h5").exists()


@pytest.mark.slow
def test_worked_example_runs_through_the_workflow(tmp_path, nb201_mirror):
    """No rule, config table or CLI branch names nb201_12ep: the workflow reads it from the registry."""
    config = {"results": "results", "seed": 0,
              "benchmarks": {"nb201_12ep": {"mirror": str(nb201_mirror)}},
              "search": {"budget": 8, "seeds": 1, "benchmarks": {"nb201_12ep": ["cifar10-valid"]},
                         "methods": {"rs": {}}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                             "--directory", str(tmp_path), "--cores", "2"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    log = pd.read_csv(tmp_path / "results/search/nb201_12ep/cifar10-valid/rs/seed0.csv")
    assert len(log) == 8 and (log["observed_acc"] == log["mean_acc"]).all()  # one run per cell
    assert (log["mean_acc"] < 85).all()  # 12-epoch accuracies: the best cell reaches 84.9, not 91.6
    assert (tmp_path / "results/report/tables/nb201_12ep_final.md").stat().st_size > 0
