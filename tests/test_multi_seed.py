"""`nasstages search --seed A B ...`: several seeds in one process give each seed the run it gets alone.

The workflow runs all seeds of a (benchmark, dataset, method) in one process; a cache or a global
RNG shared across runs would silently make seed B's result depend on seed A having run first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

TIMING_COLUMNS = ["elapsed_s", "surrogate_s"]  # wall-clock: the only columns allowed to differ


def _search(store: Path, method: str, seeds: list[int], outs: list[Path], params: str = "{}") -> None:
    subprocess.run(
        [sys.executable, "-m", "nasstages", "search", "--benchmark", "nb201", "--store", str(store),
         "--dataset", "cifar100", "--method", method, "--seed", *map(str, seeds), "--budget", "14",
         "--params", params, "--quiet", "--out", *map(str, outs)],
        check=True, capture_output=True, text=True)


def _result(csv: Path) -> tuple[pd.DataFrame, dict]:
    meta = json.loads(csv.with_suffix(".json").read_text())
    return pd.read_csv(csv).drop(columns=TIMING_COLUMNS), meta["final"]


# one method per kind of state a process could carry between runs: an evolving population, the
# distance caches of on-the-fly BO, a torch ensemble, ANASOD's encoding grid
@pytest.mark.parametrize("method", ["re", "hotnas", "bananas", "anasod_bo"])
def test_a_seed_after_another_equals_the_seed_alone(nb201_store, tmp_path, method):
    _search(nb201_store, method, [0, 1], [tmp_path / "both0.csv", tmp_path / "both1.csv"])
    _search(nb201_store, method, [1], [tmp_path / "alone1.csv"])
    _search(nb201_store, method, [0], [tmp_path / "alone0.csv"])
    for seed in (0, 1):
        together, alone = _result(tmp_path / f"both{seed}.csv"), _result(tmp_path / f"alone{seed}.csv")
        pd.testing.assert_frame_equal(together[0], alone[0])
        assert together[1] == alone[1]
    assert list(_result(tmp_path / "both0.csv")[0]["arch"]) != list(_result(tmp_path / "both1.csv")[0]["arch"])


def test_seed_and_out_lists_must_pair_up(nb201_store, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "nasstages", "search", "--benchmark", "nb201", "--store", str(nb201_store),
         "--dataset", "cifar100", "--method", "rs", "--seed", "0", "1", "--budget", "3",
         "--out", str(tmp_path / "only.csv")], capture_output=True, text=True)
    assert run.returncode == 2
    assert "2 --seed values but 1 --out paths" in run.stderr
    assert not (tmp_path / "only.csv").exists()


def test_an_unwritable_out_fails_before_any_work(nb201_store, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should be")
    run = subprocess.run(
        [sys.executable, "-m", "nasstages", "search", "--benchmark", "nb201", "--store", str(nb201_store),
         "--dataset", "cifar100", "--method", "hotnas", "--seed", "0", "--budget", "150",
         "--out", str(blocker / "seed0.csv")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert f"cannot write to {blocker}" in run.stderr and "choose a writable output folder" in run.stderr
    assert "hotnas" not in run.stderr  # no progress bar: it stopped before the search


def test_two_writers_of_one_output_cannot_interleave(nb201_store, tmp_path):
    import time

    out = tmp_path / "seed0.csv"
    command = [sys.executable, "-m", "nasstages", "search", "--benchmark", "nb201", "--store", str(nb201_store),
               "--dataset", "cifar100", "--method", "hotnas", "--seed", "0", "--budget", "100", "--quiet",
               "--out", str(out)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".seed0.csv.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # the lock file appears just before it is locked
    second = subprocess.run(command, capture_output=True, text=True, timeout=60)  # while the first runs (~5 s)
    first_err = first.communicate(timeout=120)[1]
    assert first.returncode == 0, first_err
    assert second.returncode == 2 and f"another process is writing {out} right now" in second.stderr
    assert len(pd.read_csv(out)) == 100
