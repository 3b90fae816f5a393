"""NAS-Bench-201 at its short 12-epoch schedule: a low-fidelity benchmark over the NB201 space.

Each cell's accuracy after 12 epochs (one value per cell and dataset, so queries are deterministic),
the validation column of the mirror's ``nb201_12ep.csv.gz``. Also the README's worked example of
adding a tabular benchmark: this module plus one ``register_benchmark`` line.
"""

from __future__ import annotations

import numpy as np

from nasstages.benchmarks.plugin import BenchmarkPlugin, Sources
from nasstages.benchmarks.store import DatasetTable, TabularData
from nasstages.benchmarks.tabular import TabularBenchmark
from nasstages.errors import BenchmarkSourceError
from nasstages.io import sha256_file
from nasstages.spaces import get_space

MIRROR_FILE = "nb201_12ep.csv.gz"
COLUMNS = {"cifar10-valid": "cifar10_val_acc_12ep", "cifar100": "cifar100_val_acc_12ep",
           "ImageNet16-120": "imagenet_val_acc_12ep"}  # dataset -> mirror column


def build_store(sources: Sources) -> TabularData:
    """Read the mirror's 12-epoch table (the official file has it too, not read here)."""
    import pandas as pd

    if sources.mirror is None or not (sources.mirror / MIRROR_FILE).is_file():
        raise BenchmarkSourceError(f"nb201_12ep needs {MIRROR_FILE} in the folder benchmarks.nb201_12ep.mirror "
                                   f"names (now {sources.mirror}); see ../shared/benchmarks/README.md")
    path = sources.mirror / MIRROR_FILE
    space = get_space("nb201")
    frame = pd.read_csv(path).sort_values("arch_index")
    archs = [space.from_string(s) for s in frame["arch_str"]]
    if len(frame) != space.size or [space.to_index(a) for a in archs] != list(range(space.size)):
        raise BenchmarkSourceError(f"{path}: expected each of the {space.size} NB201 cells once, in index order")
    missing = [c for c in COLUMNS.values() if c not in frame.columns]
    if missing:
        raise BenchmarkSourceError(f"{path} lacks columns {missing}")
    unknown = np.full(space.size, np.nan)
    tables = {dataset: DatasetTable(valid_acc=frame[column].to_numpy(dtype=np.float64)[:, None],
                                    train_time_s=unknown, params_mb=unknown,
                                    split="valid" if dataset == "cifar10-valid" else "valtest", epochs=12)
              for dataset, column in COLUMNS.items()}
    return TabularData(benchmark="nb201_12ep", space="nb201", archs=[space.to_string(a) for a in archs],
                       datasets=tables, source={"kind": "mirror", "path": str(sources.mirror.resolve()),
                                                "sha256": {MIRROR_FILE: sha256_file(path)}})


class NB201TwelveEpochBenchmark(TabularBenchmark):
    """Queries the 12-epoch store (deterministic: one run per cell)."""

    name = "nb201_12ep"


PLUGIN = BenchmarkPlugin(
    name="nb201_12ep", space="nb201", datasets=tuple(COLUMNS),
    benchmark="nasstages.benchmarks.nb201_12ep:NB201TwelveEpochBenchmark",
    build="nasstages.benchmarks.nb201_12ep:build_store",
    noisy_seeds=False,
    download_hint=f"point benchmarks.nb201_12ep.mirror at a folder holding {MIRROR_FILE}",
)
