"""A benchmark answered from a normalized store (``store.py``): any space, any number of
training runs per architecture (NB201 has 2-3 seeds; TransNAS-Bench-101 one, so its queries are
deterministic and noise ``sample`` equals ``mean``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nasstages.benchmarks.base import NOISE_MODES, Benchmark, Evaluation
from nasstages.benchmarks.store import read_store
from nasstages.errors import ConfigError, CorruptStoreError
from nasstages.spaces import Arch, SearchSpace, get_space


class TabularBenchmark(Benchmark):
    """Queries a store: one randomly drawn training run (noise ``sample``) or the mean over runs."""

    name: str  # the registered plugin's name: its space and datasets come from the plugin

    def __init__(self, store_path: str | Path) -> None:
        from nasstages.benchmarks.plugin import plugin

        data = read_store(store_path)
        if data.benchmark != self.name:
            raise CorruptStoreError(f"{store_path} holds benchmark {data.benchmark!r}, not {self.name!r}")
        described = plugin(self.name)
        self.space: SearchSpace = get_space(described.space)
        self.dataset_order = described.datasets
        if data.space != self.space.name:
            raise CorruptStoreError(f"{store_path} holds space {data.space!r}, not {self.space.name!r}; rebuild it")
        self.store_path = Path(store_path)
        self.source: dict[str, Any] = data.source
        self.content_sha256 = data.content_sha256
        self._tables = data.datasets
        self.arch_strings: list[str] = data.archs  # row order
        self._available = {name: ~np.isnan(t.valid_acc) for name, t in data.datasets.items()}
        self._mean = {name: np.nanmean(t.valid_acc, axis=1) for name, t in data.datasets.items()}
        self.low_fidelity = data.low_fidelity

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(d for d in self.dataset_order if d in self._tables)

    def split(self, dataset: str) -> str:
        return self._tables[dataset].split

    def params_mb(self, dataset: str) -> np.ndarray:
        """Every architecture's parameter count (MB) on ``dataset``, in row order (:meth:`archs`)."""
        self.check_dataset(dataset)
        return self._tables[dataset].params_mb

    def row(self, arch: Arch) -> int:
        """The store row of ``arch``: its index in the space's official order (stores of enumerable
        spaces list every architecture in that order; NB101 overrides this with a lookup)."""
        return self.space.to_index(arch)

    def archs(self) -> list[Arch]:
        """Every architecture the store answers for, in row order (what whole-space stages score)."""
        return list(self.space.enumerate())

    def query(self, arch: Arch, dataset: str, rng: np.random.Generator, noise: str = "sample") -> Evaluation:
        self.check_dataset(dataset)
        index = self.row(arch)
        table = self._tables[dataset]
        if noise == "sample":
            slots = np.flatnonzero(self._available[dataset][index])
            slot = int(slots[rng.integers(len(slots))])
            acc = float(table.valid_acc[index, slot])
        elif noise == "mean":
            slot, acc = -1, float(self._mean[dataset][index])
        else:
            raise ConfigError(f"unknown noise mode {noise!r}; choose one of: {', '.join(NOISE_MODES)}")
        return Evaluation(
            valid_acc=acc,
            cost_s=float(table.train_time_s[index]),
            seed_slot=slot,
            split=table.split,
            epochs=table.epochs,
        )

    def mean_valid(self, arch: Arch, dataset: str) -> float:
        self.check_dataset(dataset)
        return float(self._mean[dataset][self.row(arch)])

    def mean_valid_all(self, dataset: str) -> np.ndarray:
        """Mean validation accuracy of every cell, in row order (:meth:`archs`)."""
        self.check_dataset(dataset)
        return self._mean[dataset]

    def valid_of_seed_all(self, dataset: str, slot: int = 0) -> np.ndarray:
        """One training seed's validation accuracy of every cell, in row order: the noisier target a
        benchmark logging one run per cell gives (the mean averages the seeds' noise away)."""
        self.check_dataset(dataset)
        table = self._tables[dataset].valid_acc
        if not 0 <= slot < table.shape[1]:
            raise ConfigError(f"{self.name} {dataset} has training seeds 0..{table.shape[1] - 1}, not {slot}")
        values = table[:, slot]
        missing = int(np.isnan(values).sum())
        if missing:
            raise ConfigError(f"{self.name} {dataset}: {missing} cells lack training seed {slot}; use the mean target")
        return values

    def optimum(self, dataset: str) -> float:
        self.check_dataset(dataset)
        return float(np.max(self._mean[dataset]))
