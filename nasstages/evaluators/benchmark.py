"""The DARTS space as a Benchmark whose query trains the network: every search method runs on it
unchanged, and a query's cost is its real wall-clock.

A query draws one training seed from the search's noise RNG (so runs are reproducible and a
resumed search retrains nothing it finished), trains under the *search protocol* and observes
the accuracy on the held-out part of the training set. Training checkpoints go to a work folder
(one file per architecture, dataset and seed) so a query killed mid-training resumes from its
last epoch; finished trainings leave a JSON record there (history, accuracies, parameters).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from nasstages.benchmarks.base import Benchmark, Evaluation
from nasstages.devices import resolve_device
from nasstages.errors import ConfigError
from nasstages.evaluators.cifar import CifarData
from nasstages.evaluators.data_store import read_data_store
from nasstages.evaluators.protocol import search_protocol
from nasstages.evaluators.train import Protocol, Trainer, TrainResult
from nasstages.io import write_json_atomic
from nasstages.provenance import config_hash
from nasstages.spaces.darts import DartsArch, DartsSpace

log = logging.getLogger(__name__)

def train_key(space: DartsSpace, arch: DartsArch, dataset: str, seed: int, protocol: Protocol) -> str:
    """File stem naming one training run (architecture, dataset, seed, protocol)."""
    text = f"{space.to_string(arch)}|{dataset}|{seed}|{config_hash(protocol.__dict__)}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def train_once(space: DartsSpace, arch: DartsArch, data: CifarData, protocol: Protocol, seed: int,
               work_dir: Path, device: str, split_seed: int = 0, threads: int | None = None) -> TrainResult:
    """Train (or resume, or reuse the finished record of) one run; its record is ``<key>.json``."""
    key = train_key(space, arch, data.dataset, seed, protocol)
    record, checkpoint = work_dir / f"{key}.json", work_dir / f"{key}.pt"
    if record.exists():
        saved = json.loads(record.read_text())
        log.info("reusing finished training %s", record)
        return TrainResult(**saved["result"])
    trainer = Trainer(arch, data, protocol, seed, checkpoint=checkpoint, device=device, split_seed=split_seed,
                      threads=threads)
    result = trainer.run()
    write_json_atomic(record, {"arch": space.to_string(arch), "dataset": data.dataset, "seed": seed,
                               "protocol": protocol.__dict__, "result": result.__dict__})
    checkpoint.unlink(missing_ok=True)  # the record replaces it; epochs are no longer needed
    return result


class DartsTrainingBenchmark(Benchmark):
    """Queries train from scratch under ``protocol`` on the CIFAR data of the benchmark store."""

    name = "darts"

    def __init__(self, store_path: str | Path, protocol: dict[str, Any] | None = None, device: str = "auto",
                 work_dir: str | Path | None = None) -> None:
        self.protocol = search_protocol(protocol or {})
        self.space = DartsSpace(layers=self.protocol.layers)
        self.data, data_sha = read_data_store(store_path)
        self.device = resolve_device(device)
        self.work_dir = Path(work_dir) if work_dir else Path(store_path).with_suffix(".train")
        # what the queries depend on: the data and the protocol (not the device or folder)
        self.content_sha256 = config_hash({"data": data_sha, "protocol": self.protocol.__dict__})
        self._observed: dict[tuple[str, str], float] = {}
        import torch

        # the job's torch threads, taken before any numba parallel region (on-the-fly HOTNN) resets them
        self.threads = torch.get_num_threads()

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(self.data)

    def set_work_dir(self, folder: str | Path) -> None:
        self.work_dir = Path(folder)

    def query(self, arch: DartsArch, dataset: str, rng: np.random.Generator, noise: str = "sample") -> Evaluation:
        if noise != "sample":
            raise ConfigError("the DARTS benchmark trains each query once: noise must be 'sample' "
                              "(there is no mean over training seeds to look up)")
        seed = int(rng.integers(2**31 - 1))
        result = train_once(self.space, arch, self.data[dataset], self.protocol, seed, self.work_dir, self.device,
                            threads=self.threads)
        self._observed[(self.space.to_string(arch), dataset)] = result.valid_acc
        return Evaluation(valid_acc=result.valid_acc, cost_s=result.train_s, seed_slot=seed, split="valid",
                          epochs=self.protocol.epochs)

    def mean_valid(self, arch: DartsArch, dataset: str) -> float:
        """No mean over seeds exists: the accuracy of this search's (latest) training of ``arch``."""
        try:
            return self._observed[(self.space.to_string(arch), dataset)]
        except KeyError:
            raise ValueError("the DARTS benchmark knows an architecture's accuracy only after querying it") from None

    def optimum(self, dataset: str) -> float:
        return float("nan")  # unknown: the space is not tabulated
