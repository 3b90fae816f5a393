"""NAS-Bench-101 (Ying et al., ICML 2019) from the user's official ``nasbench_only108.tfrecord``.

The file cannot be mirrored here (~500 MB); ``benchmarks.nb101.official`` points at the user's
copy. It is read without TensorFlow (``tfrecord.py`` for the framing and its CRCs,
``nb101_records.py`` for the JSON rows and their protobuf metrics) and normalized into the usual
store, one row per unique cell (module hash):

- dataset ``cifar10``: ``valid_acc`` (N, 3) = the validation accuracy (%) of each of the three
  training repeats at 108 epochs (a query draws one: the standard noisy protocol), ``train_time_s``
  their mean final training time, ``params_mb`` the trainable parameters (millions);
- ``low_fidelity``: per epoch budget E in the file and repeat k, ``valid_acc_{E}ep_r{k}``,
  ``test_acc_{E}ep_r{k}`` and ``train_time_s_{E}ep_r{k}`` (the 108-epoch test accuracies are
  there too; other budgets only when the full ``nasbench_full.tfrecord`` is read);
- ``archs``: each cell's canonical string (``NB101Space.canonicalize``), rows sorted by module hash.

The build checks the file against the space: every record's module hash must equal our
``official_hash`` of its (pruned) spec, records of one hash must agree on the parameter count,
and each isomorphism class must appear under one hash. Records follow ``nasbench/api.py`` (``__init__``:
``evaluation_data[2]`` is the final evaluation at E epochs).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from nasstages.benchmarks.plugin import BenchmarkPlugin, Sources
from nasstages.benchmarks.store import DatasetTable, TabularData
from nasstages.benchmarks.tabular import TabularBenchmark
from nasstages.errors import BenchmarkSourceError, CorruptStoreError
from nasstages.io import sha256_file
from nasstages.spaces import Arch, get_space

log = logging.getLogger(__name__)

DATASET = "cifar10"
FULL_EPOCHS = 108
REPEATS = 3
OFFICIAL_FILE = "nasbench_only108.tfrecord"
OFFICIAL_URL = "https://storage.googleapis.com/nasbench/nasbench_only108.tfrecord"
UNIQUE_CELLS = 423_624  # the paper's count of unique cells (Ying et al., Sec. 2.3)
DOWNLOAD_HINT = (
    f"download {OFFICIAL_FILE} (~500 MB) from {OFFICIAL_URL} (google-research/nasbench, README) and set "
    "config key benchmarks.nb101.official to its path"
)


def _final_evaluation(record, where: str):
    """The evaluation at the end of training: ``evaluation_data[2]`` (start, halfway, final), as
    nasbench/api.py reads it."""
    from nasstages.benchmarks.nb101_records import FINAL_EVAL

    if len(record.metrics.evaluation_data) <= FINAL_EVAL:
        raise BenchmarkSourceError(f"{where}: record of {record.module_hash} has {len(record.metrics.evaluation_data)} "
                                   f"evaluations, not the {FINAL_EVAL + 1} (start, halfway, final) of the official file")
    return record.metrics.evaluation_data[FINAL_EVAL]


def read_official(path: Path, verify: bool = True) -> TabularData:
    """Normalize the official TFRecord file (see the module docstring) into :class:`TabularData`."""
    from nasstages.benchmarks.nb101_records import read_nb101_file

    space = get_space(PLUGIN.space)
    path = Path(path)
    if not path.is_file():
        raise BenchmarkSourceError(f"NAS-Bench-101 file {path} not found; {DOWNLOAD_HINT}")
    runs: dict[tuple[str, int], list] = defaultdict(list)  # (hash, epochs) -> final evaluations
    spec: dict[str, tuple[str, int]] = {}  # hash -> (canonical string, trainable parameters)
    count = 0
    for count, record in enumerate(read_nb101_file(path, verify=verify), start=1):
        where = f"{path} record {count}"
        known = spec.get(record.module_hash)
        if known is None:
            arch = space.from_cell_graph(record.adjacency, record.ops)
            ours = space.iso_hash(arch)
            if ours != record.module_hash:
                raise BenchmarkSourceError(f"{where}: the file's module hash {record.module_hash} differs from the "
                                           f"official hash of its spec ({ours}); not the NAS-Bench-101 file, or a "
                                           "damaged one")
            known = spec[record.module_hash] = (space.to_string(space.canonicalize(arch)),
                                                int(record.metrics.trainable_parameters))
        elif int(record.metrics.trainable_parameters) != known[1]:
            raise BenchmarkSourceError(f"{where}: cell {record.module_hash} has two parameter counts "
                                       f"({known[1]} and {record.metrics.trainable_parameters})")
        runs[(record.module_hash, int(record.epochs))].append(_final_evaluation(record, where))
    if not spec:
        raise BenchmarkSourceError(f"{path} holds no records; {DOWNLOAD_HINT}")
    hashes = sorted(spec)
    strings = [spec[h][0] for h in hashes]
    if len(set(strings)) != len(strings):
        raise BenchmarkSourceError(f"{path}: two module hashes name isomorphic cells; not the NAS-Bench-101 file")
    epochs = sorted({e for _, e in runs})
    if FULL_EPOCHS not in epochs:
        raise BenchmarkSourceError(f"{path} has no {FULL_EPOCHS}-epoch runs (epochs found: {epochs})")
    row = {h: k for k, h in enumerate(hashes)}
    n = len(hashes)
    arrays = {(kind, e): np.full((n, REPEATS), np.nan) for kind in ("valid", "test", "time") for e in epochs}
    for (module_hash, e), evaluations in runs.items():
        if len(evaluations) > REPEATS:
            raise BenchmarkSourceError(f"{path}: cell {module_hash} has {len(evaluations)} runs at {e} epochs "
                                       f"(at most {REPEATS})")
        r = row[module_hash]
        for k, ev in enumerate(evaluations):
            arrays[("valid", e)][r, k] = 100.0 * ev.validation_accuracy
            arrays[("test", e)][r, k] = 100.0 * ev.test_accuracy
            arrays[("time", e)][r, k] = ev.training_time
    valid = arrays[("valid", FULL_EPOCHS)]
    missing = int(np.isnan(valid).all(axis=1).sum())
    if missing:
        raise BenchmarkSourceError(f"{path}: {missing} cells have no {FULL_EPOCHS}-epoch run")
    table = DatasetTable(valid_acc=valid, train_time_s=np.nanmean(arrays[("time", FULL_EPOCHS)], axis=1),
                         params_mb=np.array([spec[h][1] for h in hashes], dtype=np.float64) / 1e6,
                         split="valid", epochs=FULL_EPOCHS)
    low = {f"{name}_{e}ep_r{k}": arrays[(kind, e)][:, k]
           for kind, name in (("valid", "valid_acc"), ("test", "test_acc"), ("time", "train_time_s"))
           for e in epochs for k in range(REPEATS)}
    if n != UNIQUE_CELLS:
        log.warning("%s holds %d unique cells, not NAS-Bench-101's %d: a partial or synthetic file", path, n,
                    UNIQUE_CELLS)
    return TabularData(benchmark=PLUGIN.name, space=PLUGIN.space, archs=strings,
                       datasets={DATASET: table}, low_fidelity=low,
                       source={"kind": "official", "path": str(path.resolve()), "records": count,
                               "unique_cells": n, "complete": n == UNIQUE_CELLS,
                               "sha256": {path.name: sha256_file(path)}})


def build_store(sources: Sources) -> TabularData:
    """The plugin's builder: the official file (there is no mirror of NB101)."""
    if sources.official is None:
        raise BenchmarkSourceError(f"benchmarks.nb101.official is not set; {DOWNLOAD_HINT}")
    return read_official(Path(sources.official))


class NB101Benchmark(TabularBenchmark):
    """Queries an NB101 store by canonical cell: any spec of a stored isomorphism class answers
    with that class's runs (noise ``sample``: one of the three repeats)."""

    name = "nb101"

    def __init__(self, store_path: str | Path) -> None:
        super().__init__(store_path)
        self._row = {s: k for k, s in enumerate(self.arch_strings)}

    def row(self, arch: Arch) -> int:
        key = self.space.to_string(self.space.canonicalize(arch))
        try:
            return self._row[key]
        except KeyError:
            raise CorruptStoreError(f"{self.store_path} has no cell {key} (a valid NB101 cell: the official file "
                                    f"has every one); the store was built from a partial file "
                                    f"({self.source.get('unique_cells', '?')} cells). {DOWNLOAD_HINT}, then delete "
                                    "the store and rerun") from None

    def archs(self) -> list[Arch]:
        return [self.space.from_string(s) for s in self.arch_strings]


PLUGIN = BenchmarkPlugin(
    name="nb101", space="nb101", datasets=(DATASET,),
    benchmark="nasstages.benchmarks.nb101:NB101Benchmark", build="nasstages.benchmarks.nb101:build_store",
    noisy_seeds=True,  # three training repeats per cell: a query draws one
    source_keys=("official",),
    sources_checked_early=True,  # the file is never shipped: a missing one fails before any job
    download_hint=DOWNLOAD_HINT,
)
