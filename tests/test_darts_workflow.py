"""The DARTS part of the pipeline end to end on a tiny CIFAR-format archive (CPU, small networks):
search jobs whose queries train networks, a search killed mid-training and resumed, the final
evaluation of the best genotypes and the report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from test_darts import tiny_cifar
from test_resume import _finish, _kill_job_when, _start
from test_workflow import _jobs_run, _snakemake
from nasstages.evaluators.benchmark import DartsTrainingBenchmark
from nasstages.evaluators.cifar import write_cifar_archive
from nasstages.search.runner import SearchJob, run_search

pytestmark = pytest.mark.slow

SEARCH = {"epochs": 3, "channels": 4, "layers": 3, "batch_size": 32, "valid_size": 32}
HOTNAS = {"n_init": 2, "pool_mutations": 5, "pool_random": 5}


def _config(data: Path, md5: str) -> dict:
    return {
        "results": "results", "seed": 0,
        "benchmarks": {"darts": {"data": str(data), "md5": {"cifar10": md5}, "search": SEARCH,
                                 "final": {"epochs": 1, "channels": 4, "layers": 5, "batch_size": 32, "cutout": 8},
                                 "final_replicates": 1, "device": "cpu"}},
        "resources": {"search_darts": {"threads": 1}, "evaluate": {"threads": 1}},
        "search": {"budget": 4, "seeds": [0], "benchmarks": {"darts": ["cifar10"]},
                   "methods": {"rs": {}, "hotnas": HOTNAS}},
    }


def test_darts_pipeline_resumes_a_killed_search_and_evaluates_the_best_genotypes(tmp_path):
    md5 = write_cifar_archive(tmp_path / "cifar-10-python.tar.gz", "cifar10", *tiny_cifar(160, 32))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(tmp_path, md5)))
    results = tmp_path / "results"
    csv = results / "search/darts/cifar10/hotnas/seed0.csv"
    train_dir = csv.with_suffix(".train")

    def mid_training() -> bool:  # at least one query finished and the next one is between epochs
        return csv.with_suffix(".ckpt.json").exists() and train_dir.exists() and any(train_dir.glob("*.pt"))

    first = _start(tmp_path)
    _kill_job_when("nasstages search --benchmark darts .*--method hotnas", mid_training, tmp_path, first.pid)
    code, out = _finish(first)
    assert code != 0 and not csv.exists(), out[-2000:]
    killed_at = len(json.loads(csv.with_suffix(".ckpt.json").read_text())["rows"])
    assert 1 <= killed_at < 4

    rs_done = (results / "search/darts/cifar10/rs/seed0.csv").exists()
    second = _snakemake(tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _jobs_run(second).get("search_darts") == 1 + (not rs_done)  # the killed job, and rs if not run yet
    log = (results / "logs/search/darts/cifar10/hotnas/seed0.log").read_text()
    assert f"at query {killed_at}" in log
    # the interrupted query continued from its last epoch (or, killed just after finishing, was reused)
    assert "resuming training from epoch" in log or "reusing finished training" in log
    # each of the 4 queries trained exactly once over both runs: the resumed run started only the rest
    assert len(list(train_dir.glob("*.json"))) == 4
    assert len(re.findall(r"epoch 1/3 ", log)) == 4 - killed_at - 1  # the interrupted one resumed past epoch 1

    # the resumed search is exactly the uninterrupted one (same seeds, CPU, one thread)
    torch.set_num_threads(1)
    bench = DartsTrainingBenchmark(results / "benchmarks/darts/cifar10.h5", protocol=SEARCH, device="cpu",
                                   work_dir=tmp_path / "reference.train")
    reference = run_search(SearchJob("darts", "cifar10", "hotnas", 0, 4, params=HOTNAS), bench,
                           tmp_path / "reference.csv", checkpoint_every=1, show_progress=False)
    columns = ["step", "arch", "observed_acc", "seed_slot", "incumbent_arch"]
    pd.testing.assert_frame_equal(pd.read_csv(csv)[columns], pd.read_csv(reference)[columns])

    evaluation = json.loads((results / "evaluate/darts/cifar10/hotnas/seed0/replicate0.json").read_text())
    best = pd.read_csv(csv).sort_values("observed_acc", ascending=False, kind="stable").iloc[0]
    assert evaluation["arch"] == best["arch"] and 0 <= evaluation["test_acc"] <= 100 and evaluation["params"] > 0
    table = (results / "report/tables/darts_final.md").read_text()
    assert "| CIFAR-10 | HOTNAS |" in table and "| CIFAR-10 | Random search |" in table
    assert (results / "report/figures/darts_cifar10.png").stat().st_size > 0


def test_missing_archive_fails_before_any_job_with_where_to_get_it(tmp_path):
    config = _config(tmp_path / "nowhere", "0" * 32)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = _snakemake(tmp_path, "--dry-run")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "no cifar10 archive" in output and "cifar-10-python.tar.gz" in output
    assert not (tmp_path / "results" / "benchmarks").exists()


def test_training_jobs_get_the_gpu_resources_of_the_config(tmp_path):
    md5 = write_cifar_archive(tmp_path / "cifar-10-python.tar.gz", "cifar10", *tiny_cifar(64, 16))
    config = _config(tmp_path, md5)
    config["resources"] = {"search_darts": {"gpu": 1, "slurm_partition": "gpu", "runtime": 2880},
                           "evaluate": {"gpu": 1, "slurm_partition": "gpu", "mem_mb": 32000}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = _snakemake(tmp_path, "--dry-run")
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = re.split(r"\n(?=\[|rule )", result.stdout)
    search = [j for j in jobs if "rule search_darts:" in j]
    evaluate = [j for j in jobs if "rule evaluate:" in j]
    assert len(search) == 2 and len(evaluate) == 2
    assert all("gpu=1" in j and "slurm_partition=gpu" in j and "runtime=2880" in j for j in search)
    assert all("gpu=1" in j and "mem_mb=32000" in j for j in evaluate)
    benchmark = [j for j in jobs if "rule trained_data_store:" in j]
    assert benchmark and "gpu=1" not in benchmark[0]
