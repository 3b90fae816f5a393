"""Shared fixtures: the NB201 mirror (real data, ../shared beside the checkout) and a store built from it."""

from __future__ import annotations

import os
from pathlib import Path

# One BLAS / OpenMP thread per test process, set before numpy or torch load their pools: the suite's
# models are small, and on a 2-core machine with a job beside it torch's and OpenBLAS's spinning
# threads made a 24-query arch2vec-BO run take 116 s instead of 15 s (measured). Jobs the tests start
# inherit it; the workflow's own rules set their threads themselves.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NASSTAGES_SHARED", REPO.parent / "shared"))
NB201_MIRROR = SHARED / "benchmarks" / "nb201"


@pytest.fixture(scope="session")
def nb201_mirror() -> Path:
    if not (NB201_MIRROR / "nb201_200ep_per_seed.csv.gz").is_file():
        pytest.fail(f"the NB201 mirror is missing at {NB201_MIRROR}; put shared/ beside the checkout "
                    "or set NASSTAGES_SHARED")
    return NB201_MIRROR


@pytest.fixture(scope="session")
def nb201_store(tmp_path_factory: pytest.TempPathFactory, nb201_mirror: Path) -> Path:
    """results/benchmarks/nb201.h5 built once per test session from the mirror."""
    from nasstages.benchmarks.nb201 import NB201Sources, load_sources
    from nasstages.benchmarks.store import write_store

    path = tmp_path_factory.mktemp("bench") / "nb201.h5"
    write_store(path, load_sources(NB201Sources(mirror=nb201_mirror)))
    return path


@pytest.fixture(scope="session")
def nb201_bench(nb201_store: Path):
    from nasstages.benchmarks.nb201 import NB201Benchmark

    return NB201Benchmark(nb201_store)


@pytest.fixture(scope="session")
def one_hot_embeddings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every NB201 cell embedded by its plain one-hot encoding: real vectors, no training needed."""
    from nasstages.encoders.pretrain import one_hot_features
    from nasstages.encoders.store import Embeddings, write_embeddings
    from nasstages.spaces import get_space

    space = get_space("nb201")
    archs = list(space.enumerate())
    path = tmp_path_factory.mktemp("enc") / "onehot.h5"
    write_embeddings(path, Embeddings("nb201", "onehot", [space.to_string(a) for a in archs],
                                      one_hot_features(space, archs), {"note": "test"}))
    return path


def tiled_matrix(metric, archs: list, tiles: int, folder: Path) -> tuple[list[str], list[Path], Path]:
    """``metric`` over ``archs`` computed as the distance stage does: every upper tile of a
    ``tiles`` × ``tiles`` grid written, then merged. Returns (strings, tile paths, matrix path)."""
    from nasstages.distances.store import compute_tile, merge_tiles

    strings = [metric.space.to_string(a) for a in archs]
    paths = []
    for i in range(tiles):
        for j in range(i, tiles):
            paths.append(folder / f"tile{i}{j}.h5")
            compute_tile(metric, archs, strings, tiles, i, j, paths[-1])
    merge_tiles(metric, strings, tiles, paths, folder / "m.h5", {})
    return strings, paths, folder / "m.h5"
