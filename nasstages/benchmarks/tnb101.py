"""TransNAS-Bench-101 (Duan et al., CVPR 2021): micro and macro spaces, seven tasks.

Source: the mirror's ``tnb101_final_valid.csv.gz`` (final-epoch validation metric of every
architecture on every task; one training run each, so queries are deterministic).

Every task is stored, like every benchmark here, as a score where higher is better and
**validation error = 100 − score** is what figures and tables show:
  classification (scene, object) and jigsaw: error = 100 − top-1 accuracy;
  autoencoder and surface normal:            error = 100 · (1 − SSIM);
  room layout:                               error = 100 · validation loss;
  semantic segmentation:                     error = 100 − pixel accuracy (the paper's mIoU is not
                                             in the offline data).
Training time and parameter counts are not in the mirror (NaN).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nasstages.benchmarks.plugin import BenchmarkPlugin, Sources
from nasstages.benchmarks.store import DatasetTable, TabularData
from nasstages.benchmarks.tabular import TabularBenchmark
from nasstages.errors import BenchmarkSourceError
from nasstages.io import sha256_file
from nasstages.spaces import get_space

MIRROR_FILE = "tnb101_final_valid.csv.gz"
# task -> (mirror column, score = scale * value + offset, what the error means)
TASKS: dict[str, tuple[str, float, float, str]] = {
    "class_scene": ("class_scene_valid_top1", 1.0, 0.0, "100 − top-1 accuracy"),
    "class_object": ("class_object_valid_top1", 1.0, 0.0, "100 − top-1 accuracy"),
    "room_layout": ("room_layout_valid_neg_loss", 100.0, 100.0, "100 × validation loss"),
    "jigsaw": ("jigsaw_valid_top1", 1.0, 0.0, "100 − top-1 accuracy"),
    "segmentsemantic": ("segmentsemantic_valid_acc", 1.0, 0.0, "100 − pixel accuracy (not mIoU)"),
    "normal": ("normal_valid_ssim", 100.0, 0.0, "100 · (1 − SSIM)"),
    "autoencoder": ("autoencoder_valid_ssim", 100.0, 0.0, "100 · (1 − SSIM)"),
}
DOWNLOAD_HINT = (
    "point config key benchmarks.<tnb101_micro|tnb101_macro>.mirror at a folder holding "
    f"{MIRROR_FILE} (see ../shared/benchmarks/README.md); reading the official "
    "transnas-bench_v10141024.pth is not supported yet"
)


def read_mirror(folder: Path, space_name: str) -> TabularData:
    """The mirror's rows of one space, in the space's index order, as scores (see module doc)."""
    import pandas as pd

    path = Path(folder) / MIRROR_FILE
    if not path.is_file():
        raise BenchmarkSourceError(f"TransNAS-Bench-101 mirror file {path} not found; {DOWNLOAD_HINT}")
    space = get_space(space_name)
    frame = pd.read_csv(path)
    frame = frame[frame["space"] == space_name.split("_")[1]]
    index = np.array([space.to_index(space.from_string(s)) for s in frame["arch_str"]])
    if len(frame) != space.size or sorted(index) != list(range(space.size)):
        raise BenchmarkSourceError(f"{path}: expected each of the {space.size} {space_name} architectures once, "
                                   f"found {len(frame)} rows covering {len(set(index))}")
    order = np.argsort(index)
    datasets = {}
    for task, (column, scale, offset, _) in TASKS.items():
        values = frame[column].to_numpy(dtype=np.float64)[order]
        if not np.all(np.isfinite(values)):
            raise BenchmarkSourceError(f"{path}: column {column} has missing values")
        datasets[task] = DatasetTable(valid_acc=(scale * values + offset)[:, None],
                                      train_time_s=np.full(space.size, np.nan),
                                      params_mb=np.full(space.size, np.nan), split="valid", epochs=0)
    return TabularData(benchmark=space_name, space=space_name,
                       archs=[space.to_string(space.from_index(i)) for i in range(space.size)],
                       datasets=datasets,
                       source={"kind": "mirror", "path": str(path), "sha256": {MIRROR_FILE: sha256_file(path)}})


def load_sources(space_name: str, mirror: Path | None, official: Path | None) -> TabularData:
    """Build the store data from the first configured source that works."""
    errors = []
    if mirror is not None:
        try:
            return read_mirror(mirror, space_name)
        except BenchmarkSourceError as exc:
            errors.append(str(exc))
    if official is not None:
        errors.append(f"official file {official}: reading transnas-bench_v10141024.pth is not supported yet")
    if not errors:
        errors.append("no source configured")
    raise BenchmarkSourceError(f"cannot build {space_name}: " + "; ".join(errors) + f". Fix: {DOWNLOAD_HINT}")


def build_store(sources: Sources) -> TabularData:
    """The plugins' builder (one for both spaces: the benchmark's name is its space's)."""
    return load_sources(sources.benchmark, sources.mirror, sources.official)


class TNB101MicroBenchmark(TabularBenchmark):
    """TransNAS-Bench-101 micro (cell) space; deterministic queries."""

    name = "tnb101_micro"


class TNB101MacroBenchmark(TabularBenchmark):
    """TransNAS-Bench-101 macro (skeleton) space; deterministic queries."""

    name = "tnb101_macro"


MICRO_PLUGIN, MACRO_PLUGIN = (
    BenchmarkPlugin(name=name, space=name, datasets=tuple(TASKS), benchmark=f"nasstages.benchmarks.tnb101:{cls}",
                    build="nasstages.benchmarks.tnb101:build_store",
                    noisy_seeds=False,  # one training run per architecture: queries are deterministic
                    table="errors",     # seven tasks with different metrics: errors, the HOTNAS layout
                    download_hint=DOWNLOAD_HINT)
    for name, cls in (("tnb101_micro", "TNB101MicroBenchmark"), ("tnb101_macro", "TNB101MacroBenchmark"))
)
