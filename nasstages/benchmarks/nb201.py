"""NAS-Bench-201: build the normalized store from the first source that works, and query it.

Sources, tried in order: a local mirror folder of CSVs (``benchmarks.nb201.mirror``; see
``../shared/benchmarks/README.md``), then the official NATS-Bench topology file
(``benchmarks.nb201.official``, read with the optional ``nats_bench`` package).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nasstages.benchmarks.plugin import BenchmarkPlugin, Sources
from nasstages.benchmarks.store import DatasetTable, TabularData
from nasstages.benchmarks.tabular import TabularBenchmark
from nasstages.errors import BenchmarkSourceError
from nasstages.io import sha256_file
from nasstages.spaces.nb201 import NB201Space

log = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("cifar10-valid", "cifar100", "ImageNet16-120")
SPLITS = {"cifar10-valid": "valid", "cifar100": "valtest", "ImageNet16-120": "valtest"}
FULL_EPOCHS = 200
MAX_SEEDS = 3
MIRROR_FILES = ("nb201_200ep_per_seed.csv.gz", "nb201_12ep.csv.gz")
DOWNLOAD_HINT = (
    "Either point config key benchmarks.nb201.mirror at a folder holding "
    f"{' and '.join(MIRROR_FILES)} (see ../shared/benchmarks/README.md), or download the official "
    "NATS-Bench topology file NATS-tss-v1_0-3ffb9-simple (https://github.com/D-X-Y/NATS-Bench), "
    "`pip install 'nasstages[official]'` and set benchmarks.nb201.official to its path."
)


@dataclass(frozen=True)
class NB201Sources:
    """Where NB201 may come from; ``None`` means that source is not configured."""

    mirror: Path | None = None
    official: Path | None = None


def _check_order(space: NB201Space, index: np.ndarray, strings: np.ndarray, where: str) -> None:
    """Fail if a source's (arch_index, arch_str) pairs disagree with the official order."""
    bad = [
        (int(i), s) for i, s in zip(index, strings) if space.to_string(space.from_index(int(i))) != s
    ]
    if bad:
        raise BenchmarkSourceError(
            f"{where}: {len(bad)} rows disagree with the official NB201 index order, e.g. "
            f"arch_index {bad[0][0]} is {bad[0][1]!r}; the source is not NAS-Bench-201 v1_1 / NATS-tss"
        )


def read_mirror(folder: Path) -> TabularData:
    """Normalize the mirror's CSVs into :class:`TabularData`."""
    import pandas as pd

    missing = [name for name in MIRROR_FILES if not (folder / name).is_file()]
    if missing:
        raise BenchmarkSourceError(f"mirror folder {folder} lacks {', '.join(missing)}")
    space = NB201Space()
    n = space.size
    runs = pd.read_csv(folder / MIRROR_FILES[0])
    expected = {"arch_index", "arch_str", "dataset", "seed_slot", "valid_acc_200ep", "train_time_s", "params_mb"}
    if not expected <= set(runs.columns):
        raise BenchmarkSourceError(f"{folder / MIRROR_FILES[0]} lacks columns {sorted(expected - set(runs.columns))}")
    pairs = runs[["arch_index", "arch_str"]].drop_duplicates()
    _check_order(space, pairs["arch_index"].to_numpy(), pairs["arch_str"].to_numpy(), str(folder / MIRROR_FILES[0]))
    tables = {}
    for dataset in DATASETS:
        rows = runs[runs["dataset"] == dataset]
        if rows.empty:
            raise BenchmarkSourceError(f"{folder / MIRROR_FILES[0]} has no rows for dataset {dataset}")
        index = rows["arch_index"].to_numpy()
        slot = rows["seed_slot"].to_numpy()
        valid = np.full((n, MAX_SEEDS), np.nan, dtype=np.float64)
        valid[index, slot] = rows["valid_acc_200ep"].to_numpy()
        per_arch = rows.groupby("arch_index")[["train_time_s", "params_mb"]].first().reindex(range(n))
        if per_arch.isna().any().any() or np.isnan(valid).all(axis=1).any():
            raise BenchmarkSourceError(f"{folder / MIRROR_FILES[0]} does not cover all {n} cells for {dataset}")
        tables[dataset] = DatasetTable(
            valid_acc=valid,
            train_time_s=per_arch["train_time_s"].to_numpy(),
            params_mb=per_arch["params_mb"].to_numpy(),
            split=SPLITS[dataset],
            epochs=FULL_EPOCHS,
        )
    low = pd.read_csv(folder / MIRROR_FILES[1]).set_index("arch_index").sort_index()
    if len(low) != n or not (low.index.to_numpy() == np.arange(n)).all():
        raise BenchmarkSourceError(f"{folder / MIRROR_FILES[1]} does not list arch_index 0..{n - 1} once each")
    _check_order(space, low.index.to_numpy(), low["arch_str"].to_numpy(), str(folder / MIRROR_FILES[1]))
    low_fidelity = {col: low[col].to_numpy() for col in low.columns if col != "arch_str"}
    return TabularData(
        benchmark="nb201",
        space="nb201",
        archs=[space.to_string(space.from_index(i)) for i in range(n)],
        datasets=tables,
        low_fidelity=low_fidelity,
        source={
            "kind": "mirror",
            "path": str(folder.resolve()),
            "sha256": {name: sha256_file(folder / name) for name in MIRROR_FILES},
        },
    )


def read_official(path: Path) -> TabularData:  # pragma: no cover - needs the 2 GB official file
    """Normalize the official NATS-Bench topology file (needs ``pip install nats_bench``)."""
    try:
        from nats_bench import create  # type: ignore[import-not-found]
    except ImportError as exc:
        raise BenchmarkSourceError(
            f"reading the official file {path} needs the optional package nats_bench: "
            "`pip install 'nasstages[official]'`"
        ) from exc
    space = NB201Space()
    n = space.size
    api = create(str(path), "tss", fast_mode=True, verbose=False)
    if len(api) != n:
        raise BenchmarkSourceError(f"{path} holds {len(api)} cells, not {n}: not the NATS-tss file")
    tables = {}
    for dataset in DATASETS:
        valid = np.full((n, MAX_SEEDS), np.nan, dtype=np.float64)
        time_s = np.zeros(n, dtype=np.float32)
        params = np.zeros(n, dtype=np.float32)
        metric = f"{SPLITS[dataset]}-accuracy"
        for i in range(n):
            seeds = sorted(api.query_meta_info_by_index(i, hp="200").get_dataset_seeds(dataset))
            for slot, seed in enumerate(seeds[:MAX_SEEDS]):
                valid[i, slot] = api.get_more_info(i, dataset, hp="200", is_random=seed)[metric]
            time_s[i] = api.get_more_info(i, dataset, hp="200", is_random=False)["train-all-time"]
            params[i] = api.get_cost_info(i, dataset, hp="200")["params"]
        tables[dataset] = DatasetTable(valid, time_s, params, SPLITS[dataset], FULL_EPOCHS)
    low_fidelity: dict[str, np.ndarray] = {}
    for prefix, dataset in (("cifar10", "cifar10-valid"), ("cifar100", "cifar100"), ("imagenet", "ImageNet16-120")):
        info = [api.get_more_info(i, dataset, hp="12", is_random=False) for i in range(n)]
        low_fidelity[f"{prefix}_val_acc_12ep"] = np.array([d.get("valid-accuracy", d.get("valtest-accuracy")) for d in info])
    _check_order(space, np.arange(n), np.array([api.arch(i) for i in range(n)]), str(path))
    return TabularData(
        benchmark="nb201",
        space="nb201",
        archs=[api.arch(i) for i in range(n)],
        datasets=tables,
        low_fidelity=low_fidelity,
        source={"kind": "official", "path": str(path.resolve())},
    )


def load_sources(sources: NB201Sources) -> TabularData:
    """Read NB201 from the first configured source that works, else explain how to get it."""
    tried: list[str] = []
    for kind, path, reader in (("mirror", sources.mirror, read_mirror), ("official", sources.official, read_official)):
        if path is None:
            continue
        if not path.exists():
            tried.append(f"{kind}: {path} does not exist")
            continue
        try:
            return reader(path)
        except BenchmarkSourceError as exc:
            tried.append(f"{kind}: {exc}")
    if not tried:
        tried.append("no source is configured (benchmarks.nb201.mirror and benchmarks.nb201.official are empty)")
    raise BenchmarkSourceError("NAS-Bench-201 could not be read.\n  " + "\n  ".join(tried) + "\n" + DOWNLOAD_HINT)


def build_store(sources: Sources) -> TabularData:
    """The plugin's builder: the mirror, then the official file."""
    return load_sources(NB201Sources(mirror=sources.mirror, official=sources.official))


class NB201Benchmark(TabularBenchmark):
    """Queries an NB201 store: noisy single-seed or mean 200-epoch validation accuracy."""

    name = "nb201"


PLUGIN = BenchmarkPlugin(
    name="nb201", space="nb201", datasets=DATASETS,
    benchmark="nasstages.benchmarks.nb201:NB201Benchmark", build="nasstages.benchmarks.nb201:build_store",
    noisy_seeds=True,  # 2-3 training seeds per cell: a query draws one
    download_hint=DOWNLOAD_HINT,
)
