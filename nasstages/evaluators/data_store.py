"""The DARTS benchmark's store: the verified CIFAR arrays in one HDF5 file, so that every search
and evaluation job reads the data the benchmark stage checked (and records its checksum).

Layout (format version 1): ``/datasets/<name>/{train_x, train_y, test_x, test_y}`` (uint8 images
N x 3 x 32 x 32, int64 labels); root attributes ``format_version``, ``benchmark``, ``source``
(JSON: dataset -> archive path and md5), ``content_sha256`` over every array, ``provenance`` and,
written last, ``complete``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from nasstages.errors import CorruptStoreError
from nasstages.evaluators.cifar import CifarData
from nasstages.io import atomic_path

if TYPE_CHECKING:
    from nasstages.benchmarks.plugin import Sources

FORMAT_VERSION = 1
ARRAYS = ("train_x", "train_y", "test_x", "test_y")


def _content_hash(datasets: dict[str, dict[str, np.ndarray]]) -> str:
    digest = hashlib.sha256()
    for name in sorted(datasets):
        for key in ARRAYS:
            digest.update(f"{name}/{key}".encode())
            digest.update(np.ascontiguousarray(datasets[name][key]).tobytes())
    return digest.hexdigest()


def write_data_store(path: str | Path, data: list[CifarData], provenance: dict[str, Any]) -> None:
    """Write the verified datasets atomically (a killed writer leaves no file)."""
    arrays = {d.dataset: {key: getattr(d, key) for key in ARRAYS} for d in data}
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for name, parts in arrays.items():
                for key, value in parts.items():
                    f.create_dataset(f"datasets/{name}/{key}", data=value)
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["benchmark"] = "darts"
            f.attrs["source"] = json.dumps({d.dataset: {"md5": d.md5} for d in data})
            f.attrs["content_sha256"] = _content_hash(arrays)
            f.attrs["provenance"] = json.dumps(provenance, default=str)
            f.attrs["complete"] = True


def read_data_store(path: str | Path) -> tuple[dict[str, CifarData], str]:
    """(dataset -> CifarData, content sha256); CorruptStoreError naming the fix otherwise."""
    path = Path(path)
    fix = f"delete {path} and rerun the benchmark stage (snakemake rebuilds it)"
    try:
        with h5py.File(path, "r") as f:
            if not f.attrs.get("complete") or f.attrs.get("format_version") != FORMAT_VERSION:
                raise CorruptStoreError(f"{path} is incomplete or of another format version; {fix}")
            source = json.loads(f.attrs["source"])
            arrays = {name: {key: f[f"datasets/{name}/{key}"][()] for key in ARRAYS} for name in f["datasets"]}
            expected = str(f.attrs["content_sha256"])
    except CorruptStoreError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise CorruptStoreError(f"{path} cannot be read as a DARTS data store ({exc}); {fix}") from None
    actual = _content_hash(arrays)
    if actual != expected:
        raise CorruptStoreError(f"{path} fails its content checksum; {fix}")
    data = {name: CifarData(dataset=name, md5=source[name]["md5"], **parts) for name, parts in arrays.items()}
    return data, actual


def check_data_store_complete(path: str | Path) -> None:
    """The cheap check run before scheduling (no checksum of the images): the file opens and was
    finished by its writer. Jobs that read the store verify its checksum in full."""
    fix = f"delete {path} and rerun the benchmark stage (snakemake rebuilds it)"
    try:
        with h5py.File(path, "r") as f:
            complete = bool(f.attrs.get("complete")) and f.attrs.get("format_version") == FORMAT_VERSION
    except OSError as exc:
        raise CorruptStoreError(f"{path} cannot be opened as a DARTS data store ({exc}); {fix}") from None
    if not complete:
        raise CorruptStoreError(f"{path} is incomplete or of another format version; {fix}")


def build_data_store(sources: "Sources", out: Path) -> None:
    """The DARTS plugin's builder: the CIFAR archives verified (md5) and unpacked into one HDF5."""
    import logging
    import time

    from nasstages.errors import ConfigError
    from nasstages.evaluators.cifar import load_cifar
    from nasstages.provenance import provenance

    if sources.data is None or not sources.datasets:
        raise ConfigError("benchmarks fetch --benchmark darts needs --data (the CIFAR archives' folder) and --datasets")
    started = time.perf_counter()
    loaded = [load_cifar(name, sources.data, sources.md5.get(name)) for name in sources.datasets]
    write_data_store(out, loaded, provenance({"space": "darts", "data": str(sources.data),
                                              "md5": {d.dataset: d.md5 for d in loaded}}))
    logging.getLogger(__name__).info(
        "wrote %s (%s) in %.1f s", out, ", ".join(f"{d.dataset}: {len(d.train_y)} train / {len(d.test_y)} test"
                                                 for d in loaded), time.perf_counter() - started)
