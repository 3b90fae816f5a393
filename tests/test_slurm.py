"""The real-SLURM test: a tiny pipeline through `--profile workflow/profiles/slurm` on the
single-node cluster that `.ci/slurm-cluster.sh up` starts, compared with a local run.

Skipped where no SLURM is running, unless NASSTAGES_REQUIRE_SLURM=1 (set by .ci/run), where a
missing cluster fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from nasstages.distances.store import read_matrix

pytestmark = pytest.mark.slow


def _cluster_up() -> bool:
    if not shutil.which("sbatch") or not shutil.which("sinfo"):
        return False
    states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return states.returncode == 0 and any(s in ("idle", "mixed", "allocated") for s in states.stdout.split())


def _plugin_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("snakemake_executor_plugin_slurm") is not None


@pytest.fixture(scope="module")
def cluster():
    if not (_cluster_up() and _plugin_installed()):
        message = ("no idle SLURM node or no snakemake-executor-plugin-slurm: run `sudo .ci/slurm-cluster.sh up` "
                   "and `pip install -e '.[slurm]'`")
        if os.environ.get("NASSTAGES_REQUIRE_SLURM") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _config(mirror: Path) -> dict:
    return {
        "results": "results",
        "seed": 0,
        "benchmarks": {"nb201": {"mirror": str(mirror), "official": None}},
        "pools": {"nb201": {"tiny": {"size": 20, "dedup": "iso"}}},
        "distances": {"nb201": {"pools": ["tiny"], "tiles": 1, "threads": 1, "device": "cpu",
                                "metrics": {"edit": {}}}},
        "search": {"budget": 15, "seeds": 1, "benchmarks": {"nb201": ["cifar10-valid"]},
                   "methods": {"rs": {}, "re": {"population_size": 5, "sample_size": 2}}},
        "resources": {"search": {"mem_mb": 1000, "runtime": 10}},
    }


def _snakemake(workdir: Path, *extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
               str(workdir), *extra]
    # SIGINT, not SIGTERM, ends a snakemake waiting on SLURM (../shared/notes/slurm.md)
    return subprocess.run(["timeout", "-s", "INT", str(timeout), *command], capture_output=True, text=True,
                          env=env, cwd=workdir)


# poll job states every 2 s, not the defaults' 40 s before the first check and 10 s between checks
FAST_POLLING = ("--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2")


def _completed_in_accounting(job_id: str) -> bool:
    """slurmdbd's record of a job (what the plugin's default status query, sacct, reads)."""
    out = subprocess.run(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State"], capture_output=True, text=True)
    return out.returncode == 0 and out.stdout.split() == ["COMPLETED"]


def test_pipeline_through_real_slurm_equals_a_local_run(cluster, tmp_path, nb201_mirror):
    """The profile as shipped: job status from sacct (the plugin's default, as on a cluster with
    accounting) and its job grouping, with group sizes that fit the 2-core test node."""
    on_slurm, local = tmp_path / "slurm", tmp_path / "local"
    for folder in (on_slurm, local):
        folder.mkdir()
        (folder / "config.yaml").write_text(yaml.safe_dump(_config(nb201_mirror)))
    result = _snakemake(on_slurm, "--profile", str(REPO / "workflow/profiles/slurm"),
                        "--group-components", "searches=2",
                        *FAST_POLLING, "--jobs", "4")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert _snakemake(local, "--cores", "2").returncode == 0

    # every job but `all` went through sbatch, the two searches as one group job (the one tile and
    # the one merge are groups of one): one SLURM log per submission, named by its SLURM job id,
    # each job completed in the accounting database
    logs = sorted((on_slurm / ".snakemake/slurm_logs").rglob("*.log"))
    submitted = {log.relative_to(on_slurm / ".snakemake/slurm_logs").parts[0] for log in logs}
    assert submitted == {"rule_benchmark_store", "rule_sample_pool", "group_tiles_distance_tile",
                         "group_merges_distance_matrix", "group_searches_search", "rule_report"}, submitted
    assert len(logs) == len(submitted) == 6  # one submission of each kind: 6 for 7 jobs
    for log in logs:
        assert log.stem.isdigit(), log
        assert _completed_in_accounting(log.stem), log

    _assert_same_results(on_slurm, local)

    # job status from squeue instead (clusters without accounting): the searches again, one group job
    again = _snakemake(on_slurm, "--profile", str(REPO / "workflow/profiles/slurm"), "--group-components",
                       "searches=2", "--slurm-status-command", "squeue", *FAST_POLLING, "--forcerun", "search",
                       "--until", "search")
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert len(sorted((on_slurm / ".snakemake/slurm_logs").rglob("*.log"))) == len(logs) + 1
    _assert_same_results(on_slurm, local)

    rerun = _snakemake(on_slurm, "--profile", str(REPO / "workflow/profiles/slurm"))
    assert rerun.returncode == 0 and "Nothing to be done" in rerun.stdout + rerun.stderr


def _assert_same_results(on_slurm: Path, local: Path) -> None:
    for name in ("search/nb201/cifar10-valid/rs/seed0.csv", "search/nb201/cifar10-valid/re/seed0.csv"):
        a = pd.read_csv(on_slurm / "results" / name).drop(columns=["elapsed_s"])
        b = pd.read_csv(local / "results" / name).drop(columns=["elapsed_s"])
        pd.testing.assert_frame_equal(a, b)
    a = read_matrix(on_slurm / "results/distances/nb201/edit/tiny.h5")
    b = read_matrix(local / "results/distances/nb201/edit/tiny.h5")
    assert a.archs == b.archs and np.array_equal(a.distances, b.distances)
    assert (on_slurm / "results/report/tables/nb201_final.md").read_text() == \
        (local / "results/report/tables/nb201_final.md").read_text()
