"""The normalized HDF5 store of a tabular benchmark: format, atomic writing, verified reading.

Layout (format version 1)::

    /archs                          (N,)   architecture strings, in the benchmark's index order
    /datasets/<name>/valid_acc      (N, S) per-training-seed validation accuracy (%), NaN = no seed
    /datasets/<name>/train_time_s   (N,)   training time of one run at full fidelity
    /datasets/<name>/params_mb      (N,)   parameters (MB)
    /low_fidelity/<column>          (N,)   cheaper evaluations (e.g. 12-epoch accuracies)

Root attributes: ``format_version``, ``benchmark``, ``space``, ``source`` (JSON: kind, path,
per-file SHA-256), ``content_sha256`` over every array, ``provenance`` (JSON) and, written
last, ``complete``. A file missing any of them, failing to open or failing the content
checksum raises :class:`CorruptStoreError`; it is never silently used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nasstages.errors import CorruptStoreError
from nasstages.io import atomic_path, labelled_arrays_sha256

FORMAT_VERSION = 1


@dataclass
class DatasetTable:
    """Per-dataset arrays of a tabular benchmark."""

    valid_acc: np.ndarray  # (N, S) float, NaN where a seed is missing
    train_time_s: np.ndarray  # (N,)
    params_mb: np.ndarray  # (N,)
    split: str
    epochs: int


@dataclass
class TabularData:
    """Everything a store holds, in memory."""

    benchmark: str
    space: str
    archs: list[str]
    datasets: dict[str, DatasetTable]
    low_fidelity: dict[str, np.ndarray] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    content_sha256: str = ""  # filled in by read_store


def _arrays(data: TabularData) -> dict[str, np.ndarray]:
    """Every array of ``data`` under its HDF5 path, for writing and checksumming alike."""
    arrays: dict[str, np.ndarray] = {}
    for name, table in data.datasets.items():
        arrays[f"datasets/{name}/valid_acc"] = np.asarray(table.valid_acc, dtype=np.float64)
        arrays[f"datasets/{name}/train_time_s"] = np.asarray(table.train_time_s, dtype=np.float64)
        arrays[f"datasets/{name}/params_mb"] = np.asarray(table.params_mb, dtype=np.float64)
    for name, values in data.low_fidelity.items():
        arrays[f"low_fidelity/{name}"] = np.asarray(values, dtype=np.float64)
    return arrays


def _content_sha256(archs: list[str], arrays: dict[str, np.ndarray]) -> str:
    return labelled_arrays_sha256(archs, {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()})


def write_store(path: str | Path, data: TabularData) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, then rename)."""
    arrays = _arrays(data)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["format_version"] = FORMAT_VERSION
            h5.attrs["benchmark"] = data.benchmark
            h5.attrs["space"] = data.space
            h5.attrs["source"] = json.dumps(data.source, sort_keys=True)
            h5.attrs["provenance"] = json.dumps(data.provenance, sort_keys=True, default=str)
            h5.create_dataset("archs", data=np.array(data.archs, dtype=object), dtype=h5py.string_dtype())
            for key, values in arrays.items():
                h5.create_dataset(key, data=values, compression="gzip", shuffle=True)
            for name, table in data.datasets.items():
                h5[f"datasets/{name}"].attrs["split"] = table.split
                h5[f"datasets/{name}"].attrs["epochs"] = table.epochs
            h5.attrs["content_sha256"] = _content_sha256(data.archs, arrays)
            h5.attrs["complete"] = True


def _fail(path: Path, why: str) -> CorruptStoreError:
    return CorruptStoreError(
        f"benchmark store {path} is unusable: {why}. Delete it and rebuild it with "
        f"`nasstages benchmarks fetch` (or rerun snakemake, which does so)."
    )


def read_store(path: str | Path) -> TabularData:
    """Read and verify a store; raises CorruptStoreError (with the fix) on any defect."""
    path = Path(path)
    if not path.exists():
        raise CorruptStoreError(
            f"benchmark store {path} does not exist; build it with `nasstages benchmarks fetch` (or snakemake)"
        )
    try:
        with h5py.File(path, "r") as h5:
            attrs = dict(h5.attrs)
            if not attrs.get("complete", False):
                raise _fail(path, "it was never finished (no 'complete' attribute)")
            if int(attrs.get("format_version", -1)) != FORMAT_VERSION:
                raise _fail(path, f"format version {attrs.get('format_version')} is not {FORMAT_VERSION}")
            archs = [s.decode() if isinstance(s, bytes) else str(s) for s in h5["archs"][()]]
            datasets = {}
            for name, group in h5["datasets"].items():
                datasets[name] = DatasetTable(
                    valid_acc=group["valid_acc"][()],
                    train_time_s=group["train_time_s"][()],
                    params_mb=group["params_mb"][()],
                    split=str(group.attrs["split"]),
                    epochs=int(group.attrs["epochs"]),
                )
            low = {name: ds[()] for name, ds in h5["low_fidelity"].items()} if "low_fidelity" in h5 else {}
    except CorruptStoreError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        raise _fail(path, f"it cannot be read as a complete store ({type(exc).__name__}: {exc})") from exc
    data = TabularData(
        benchmark=str(attrs["benchmark"]),
        space=str(attrs["space"]),
        archs=archs,
        datasets=datasets,
        low_fidelity=low,
        source=json.loads(attrs.get("source", "{}")),
        provenance=json.loads(attrs.get("provenance", "{}")),
    )
    data.content_sha256 = _content_sha256(archs, _arrays(data))
    if data.content_sha256 != attrs.get("content_sha256"):
        raise _fail(path, "its content checksum does not match (the file was modified or damaged)")
    return data
