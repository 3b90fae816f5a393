"""Resumability under Snakemake, tested by killing real jobs: a killed search job resumes from its
checkpoint; a killed distance tile is redone while finished tiles are kept; finished results are
never deleted by a failing rerun."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO
from nasstages.search.runner import SearchJob, run_search

pytestmark = pytest.mark.slow


def _config(mirror: Path, **override) -> dict:
    config = {
        "results": "results",
        "seed": 0,
        "benchmarks": {"nb201": {"mirror": str(mirror), "official": None}},
        "search": {"budget": 120, "seeds": [3, 4], "checkpoint_every": 10, "benchmarks": {"nb201": ["cifar100"]},
                   "methods": {"bananas": {"members": 2, "epochs": 60, "n_init": 5}}},
    }
    config.update(override)
    return config


def _start(workdir: Path) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
         "--cores", "1", "--rerun-incomplete"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _descendants(root: int) -> set[int]:
    """Every live process below ``root`` in the process tree (from /proc's parent links)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, frontier = set(), [root]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def _unfinished_jobs(pattern: str, workdir: Path, root: int) -> list[int]:
    """PIDs of this test's own running jobs (descendants of its Snakemake process ``root``, so a
    concurrent run of the same pipeline is never touched) matching ``pattern`` (a job's shell and
    its `nasstages` process) with an ``--out`` file not written yet: a job that already wrote all
    its outputs is finished."""
    found = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout.splitlines()
    ours = _descendants(root)
    victims = []
    for line in found:
        pid, *args = line.split()
        if int(pid) not in ours:
            continue
        outs = []
        if "--out" in args:
            for arg in args[args.index("--out") + 1:]:
                if arg.startswith(("--", ">")):
                    break
                outs.append(arg.strip("'"))
        if not outs or not all((workdir / out).exists() for out in outs):
            victims.append(int(pid))
    return victims


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_job_when(pattern: str, ready, workdir: Path, root: int, timeout: float = 300.0) -> None:
    """SIGKILL the running unfinished job matching ``pattern`` as soon as ``ready()`` is true (a job
    dying mid-way, as on a preempted node), then keep killing unfinished matches for 3 s: a job's
    shell killed before it exec'd its `nasstages` child leaves that child orphaned, and the orphan
    would finish behind Snakemake's back. Jobs that already wrote their output are left alone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            victims = _unfinished_jobs(pattern, workdir, root)
            if victims:
                _kill(victims)
                stop = time.monotonic() + 3.0
                while time.monotonic() < stop:
                    _kill(_unfinished_jobs(pattern, workdir, root))
                    time.sleep(0.02)
                return
        time.sleep(0.02)
    raise AssertionError(f"no job matching {pattern!r} became ready to kill")


def _finish(process: subprocess.Popen) -> tuple[int, str]:
    out, _ = process.communicate(timeout=600)
    return process.returncode, out


def test_killed_search_job_resumes_from_its_checkpoint(tmp_path, nb201_mirror, nb201_bench):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(nb201_mirror)))
    csv = tmp_path / "results/search/nb201/cifar100/bananas/seed4.csv"
    earlier = csv.with_name("seed3.csv")  # the job runs seed 3, then seed 4
    checkpoint = csv.with_suffix(".ckpt.json")
    first = _start(tmp_path)
    _kill_job_when("nasstages search .*--method bananas --seed 3 4", checkpoint.exists, tmp_path, first.pid)
    code, out = _finish(first)
    assert code != 0 and not csv.exists() and checkpoint.exists(), out[-2000:]
    # Snakemake deleted the failed job's outputs, seed 3's too; its finished run is in its checkpoint
    assert not earlier.exists()
    assert "finished" in json.loads(earlier.with_suffix(".ckpt.json").read_text())
    killed_at = len(json.loads(checkpoint.read_text())["rows"])
    assert 10 <= killed_at < 120

    code, out = _finish(_start(tmp_path))
    assert code == 0, out[-3000:]
    log = (tmp_path / "results/logs/search/nb201/cifar100/bananas/seeds.log").read_text()
    assert f"at query {killed_at}" in log  # the resumed job skipped the queries already paid for
    assert not checkpoint.exists()
    # the seed the killed job had finished was restored, not rerun; no checkpoint is left behind
    assert "kept results/search/nb201/cifar100/bananas/seed3.csv: restored from the checkpoint" in log
    assert not earlier.with_suffix(".ckpt.json").exists()
    # and the resumed run is exactly the uninterrupted one
    job = SearchJob("nb201", "cifar100", "bananas", 4, 120, params={"members": 2, "epochs": 60, "n_init": 5})
    reference = tmp_path / "reference.csv"
    run_search(job, nb201_bench, reference, show_progress=False)
    columns = ["step", "arch", "observed_acc", "incumbent_arch", "predicted_acc"]
    pd.testing.assert_frame_equal(pd.read_csv(csv)[columns], pd.read_csv(reference)[columns])


def test_killed_distance_tile_is_redone_and_finished_tiles_are_kept(tmp_path, nb201_mirror):
    config = _config(nb201_mirror, pools={"nb201": {"p": {"size": 150}}},
                     distances={"nb201": {"pools": ["p"], "tiles": 3, "threads": 1, "device": "cpu",
                                          "metrics": {"otmann": {}}}})
    config["search"]["methods"] = {"rs": {}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    tiles = tmp_path / "results/distances/nb201/otmann/tiles/p"

    def finished() -> list[Path]:
        return sorted(tiles.glob("*.h5")) if tiles.exists() else []

    first = _start(tmp_path)
    _kill_job_when("nasstages distances tile .*--pool results/pools/nb201/p.h5", lambda: len(finished()) >= 2,
                   tmp_path, first.pid)
    code, out = _finish(first)
    kept = {p.name: p.stat().st_mtime_ns for p in finished()}
    assert code != 0 and 2 <= len(kept) < 6, out[-2000:]

    second = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
         "--cores", "1", "--dry-run"], capture_output=True, text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    planned = re.findall(r"output: \S*/tiles/p/(\d_\d\.h5)", second.stdout + second.stderr)
    assert sorted(planned) == sorted({f"{i}_{j}.h5" for i in range(3) for j in range(i, 3)} - set(kept)), (planned, kept)
    code, out = _finish(_start(tmp_path))
    assert code == 0, out[-3000:]
    assert (tmp_path / "results/distances/nb201/otmann/p.h5").exists()
