"""NB201 store: built from the mirror, equal to it, verified on read, queried by the protocol."""

from __future__ import annotations

import shutil
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest

from nasstages.benchmarks.nb201 import DATASETS, NB201Benchmark, NB201Sources, load_sources
from nasstages.benchmarks.store import read_store
from nasstages.errors import BenchmarkSourceError, ConfigError, CorruptStoreError


@pytest.fixture(scope="module")
def runs(nb201_mirror) -> pd.DataFrame:
    return pd.read_csv(nb201_mirror / "nb201_200ep_per_seed.csv.gz")


def test_store_matches_mirror_runs(nb201_store, runs):
    data = read_store(nb201_store)
    assert data.source["kind"] == "mirror" and len(data.source["sha256"]) == 2
    assert len(data.archs) == 15625
    for dataset in DATASETS:
        rows = runs[runs["dataset"] == dataset]
        table = data.datasets[dataset]
        np.testing.assert_array_equal(table.valid_acc[rows["arch_index"], rows["seed_slot"]], rows["valid_acc_200ep"])
        assert np.isnan(table.valid_acc).sum() == 3 * 15625 - len(rows)
        np.testing.assert_array_equal(table.train_time_s[rows["arch_index"]], rows["train_time_s"])
        np.testing.assert_array_equal(table.params_mb[rows["arch_index"]], rows["params_mb"])
        assert [data.archs[i] for i in rows["arch_index"][:100]] == list(rows["arch_str"][:100])
    assert data.datasets["cifar10-valid"].split == "valid" and data.datasets["cifar100"].split == "valtest"


def test_store_matches_mirror_low_fidelity(nb201_store, nb201_mirror):
    low = pd.read_csv(nb201_mirror / "nb201_12ep.csv.gz").sort_values("arch_index")
    data = read_store(nb201_store)
    assert set(data.low_fidelity) == set(low.columns) - {"arch_index", "arch_str"}
    for column, values in data.low_fidelity.items():
        np.testing.assert_array_equal(values, low[column])


def test_optimum_and_mean(nb201_bench, runs):
    means = runs.groupby(["dataset", "arch_index"])["valid_acc_200ep"].mean()
    for dataset in DATASETS:
        assert nb201_bench.optimum(dataset) == pytest.approx(means[dataset].max())
    assert nb201_bench.optimum("cifar10-valid") == pytest.approx(91.61, abs=0.005)  # published optimum
    arch = nb201_bench.space.from_index(123)
    assert nb201_bench.mean_valid(arch, "cifar100") == pytest.approx(means["cifar100"][123])


def test_query_draws_one_training_seed(nb201_bench, runs):
    index = int(runs[(runs["dataset"] == "cifar10-valid")].groupby("arch_index").size().idxmax())
    arch = nb201_bench.space.from_index(index)
    seeds = runs[(runs["dataset"] == "cifar10-valid") & (runs["arch_index"] == index)]
    rng = np.random.default_rng(0)
    draws = [nb201_bench.query(arch, "cifar10-valid", rng) for _ in range(60)]
    assert {d.valid_acc for d in draws} == set(seeds["valid_acc_200ep"])
    assert all(d.cost_s == pytest.approx(seeds["train_time_s"].iloc[0]) for d in draws)
    assert all(d.split == "valid" and d.epochs == 200 for d in draws)
    mean = nb201_bench.query(arch, "cifar10-valid", rng, noise="mean")
    assert mean.seed_slot == -1 and mean.valid_acc == pytest.approx(seeds["valid_acc_200ep"].mean())
    with pytest.raises(ConfigError, match="choose one of"):
        nb201_bench.query(arch, "cifar10", rng)
    with pytest.raises(ConfigError, match="noise"):
        nb201_bench.query(arch, "cifar100", rng, noise="median")


def test_truncated_store_is_detected(nb201_store, tmp_path):
    broken = tmp_path / "nb201.h5"
    broken.write_bytes(nb201_store.read_bytes()[: nb201_store.stat().st_size // 2])
    with pytest.raises(CorruptStoreError, match="Delete it and rebuild"):
        NB201Benchmark(broken)


def test_modified_store_fails_checksum(nb201_store, tmp_path):
    changed = tmp_path / "nb201.h5"
    shutil.copy(nb201_store, changed)
    with h5py.File(changed, "r+") as h5:
        h5["datasets/cifar100/valid_acc"][5, 0] += 1.0
    with pytest.raises(CorruptStoreError, match="checksum"):
        read_store(changed)


def test_unfinished_store_is_detected(nb201_store, tmp_path):
    partial = tmp_path / "nb201.h5"
    shutil.copy(nb201_store, partial)
    with h5py.File(partial, "r+") as h5:
        del h5.attrs["complete"]
    with pytest.raises(CorruptStoreError, match="never finished"):
        read_store(partial)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(CorruptStoreError):
        read_store(garbage)
    with pytest.raises(CorruptStoreError, match="does not exist"):
        read_store(tmp_path / "missing.h5")


def test_missing_source_says_where_to_download(tmp_path):
    with pytest.raises(BenchmarkSourceError) as info:
        load_sources(NB201Sources(mirror=tmp_path / "nowhere"))
    message = str(info.value)
    assert "benchmarks.nb201.mirror" in message and "benchmarks.nb201.official" in message
    assert "NATS-tss-v1_0-3ffb9-simple" in message and str(tmp_path / "nowhere") in message
    with pytest.raises(BenchmarkSourceError, match="no source is configured"):
        load_sources(NB201Sources())


def test_partial_mirror_is_rejected(tmp_path, nb201_mirror):
    (tmp_path / "nb201_200ep_per_seed.csv.gz").symlink_to(nb201_mirror / "nb201_200ep_per_seed.csv.gz")
    with pytest.raises(BenchmarkSourceError, match="lacks nb201_12ep.csv.gz"):
        load_sources(NB201Sources(mirror=tmp_path))


def test_failed_fetch_keeps_existing_store(tmp_path, nb201_store):
    out = tmp_path / "nb201.h5"
    shutil.copy(nb201_store, out)
    before = out.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "nasstages", "benchmarks", "fetch", "--space", "nb201",
         "--mirror", str(tmp_path / "nowhere"), "--out", str(out)],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "benchmarks.nb201.mirror" in result.stderr and "Traceback" not in result.stderr
    assert out.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary file left behind"
