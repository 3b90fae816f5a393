"""Architecture pools: uniform samples of a space, deduplicated, stored as HDF5.

Pools are what the distance, encoder and estimator stages work on, so every pool records the
space, size, dedup rule and seed it came from, and is verified on read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from nasstages.errors import ConfigError, CorruptStoreError
from nasstages.io import atomic_path
from nasstages.provenance import provenance
from nasstages.rng import job_rng
from nasstages.spaces import Arch, SearchSpace, get_space

POOL_FORMAT_VERSION = 1
DEDUP_MODES = ("iso", "arch")


@dataclass
class Pool:
    space: SearchSpace
    archs: list[Arch]
    hashes: list[str]


def sample_pool(space_name: str, size: int, global_seed: int, pool_name: str, dedup: str = "iso") -> Pool:
    """``size`` uniform architectures, distinct by isomorphism class (``iso``) or by string."""
    if dedup not in DEDUP_MODES:
        raise ConfigError(f"unknown dedup mode {dedup!r}; choose one of: {', '.join(DEDUP_MODES)}")
    space = get_space(space_name)
    rng = job_rng(global_seed, "pool", space_name, pool_name)
    try:
        archs = space.sample_unique(size, rng, by=dedup)
    except ValueError as exc:
        raise ConfigError(f"pool {pool_name!r} of size {size}: {exc}; ask for a smaller pool") from exc
    return Pool(space=space, archs=archs, hashes=[space.iso_hash(a) for a in archs])


def write_pool(path: str | Path, pool: Pool, config: dict) -> None:
    """Write a pool atomically with its provenance."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["format_version"] = POOL_FORMAT_VERSION
            h5.attrs["space"] = pool.space.name
            h5.attrs["provenance"] = json.dumps(provenance(config), sort_keys=True, default=str)
            strings = [pool.space.to_string(a) for a in pool.archs]
            h5.create_dataset("archs", data=np.array(strings, dtype=object), dtype=h5py.string_dtype())
            h5.create_dataset("iso_hash", data=np.array(pool.hashes, dtype=object), dtype=h5py.string_dtype())
            h5.attrs["complete"] = True


def read_pool(path: str | Path) -> Pool:
    """Read and check a pool; raises CorruptStoreError (with the fix) on any defect."""
    path = Path(path)
    fix = "delete it and rerun `nasstages sample` (or snakemake)"
    try:
        with h5py.File(path, "r") as h5:
            if not h5.attrs.get("complete", False) or int(h5.attrs.get("format_version", -1)) != POOL_FORMAT_VERSION:
                raise CorruptStoreError(f"pool {path} is partial or of another format version; {fix}")
            space = get_space(str(h5.attrs["space"]))
            strings = [s.decode() for s in h5["archs"][()]]
            hashes = [s.decode() for s in h5["iso_hash"][()]]
    except CorruptStoreError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise CorruptStoreError(f"pool {path} cannot be read ({exc}); {fix}") from exc
    archs = [space.from_string(s) for s in strings]
    if [space.iso_hash(a) for a in archs] != hashes:
        raise CorruptStoreError(f"pool {path}: stored hashes do not match its architectures; {fix}")
    return Pool(space=space, archs=archs, hashes=hashes)
