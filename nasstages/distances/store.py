"""Tiled distance matrices: tile files written by separate jobs, merged into one chunked HDF5.

A tile (i, j), i <= j, holds rows of block i against columns of block j of the pool's
architectures (diagonal tiles are symmetric). A tile exists only when complete (atomic write),
so a killed job leaves nothing marked done. Every file records the metric, its parameters'
hash and the pool's checksum; merging refuses tiles made from anything else.

Matrix layout: ``/distances`` N×N float32 (chunked by row, uncompressed: a BO job reads the rows
of the ~100 architectures it observed in milliseconds instead of inflating the whole matrix;
symmetric, zero diagonal), or T×N×N for a stacked metric (one matrix per term, e.g. NASBOT's eight
OTMANN distances, attribute ``terms``), ``/archs``;
attributes ``metric``, ``params`` (JSON), ``params_hash``, ``space``, ``pool_sha256``,
``distances_sha256`` (of the float32 matrix's bytes: verified whenever the file is opened),
``provenance``, ``format_version``, ``complete``. A tile records ``block_sha256`` likewise, checked
by the merge.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np

from nasstages.distances.base import Distance
from nasstages.errors import CorruptStoreError, NasstagesError
from nasstages.io import atomic_path
from nasstages.provenance import provenance

MATRIX_FORMAT_VERSION = 2  # 2: content checksums (distances_sha256)


def content_sha256(values: np.ndarray) -> str:
    """SHA-256 of an array's float32 C-order bytes (the stored form)."""
    # hashed through the buffer protocol: no copy of a 67 MB matrix (tobytes was half a job's reading)
    return hashlib.sha256(memoryview(np.ascontiguousarray(values, dtype=np.float32)).cast("B")).hexdigest()


def tile_bounds(n: int, tiles: int) -> np.ndarray:
    """Block boundaries: block k is rows bounds[k]:bounds[k+1]."""
    if not 1 <= tiles <= max(n, 1):
        raise NasstagesError(f"tiles per side must be between 1 and the pool size {n}, not {tiles}")
    return np.linspace(0, n, tiles + 1).astype(np.int64)


def tile_pairs(tiles: int) -> list[tuple[int, int]]:
    """The (i, j), i <= j, tiles of the upper triangle."""
    return [(i, j) for i in range(tiles) for j in range(i, tiles)]


def pool_checksum(strings: Sequence[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(strings).encode()).hexdigest()


def compute_tile(distance: Distance, archs: Sequence, strings: Sequence[str], tiles: int, i: int, j: int,
                 out: str | Path) -> float:
    """Compute tile (i, j) and write it atomically; returns seconds spent."""
    if not 0 <= i <= j < tiles:
        raise NasstagesError(f"tile ({i}, {j}) is not in the upper triangle of a {tiles}×{tiles} grid")
    bounds = tile_bounds(len(archs), tiles)
    rows = list(archs[bounds[i] : bounds[i + 1]])
    cols = list(archs[bounds[j] : bounds[j + 1]])
    started = time.perf_counter()
    block = distance.pairwise(rows) if i == j else distance.pairwise(rows, cols)
    seconds = time.perf_counter() - started
    if block.shape != (*_term_shape(distance), len(rows), len(cols)):
        raise NasstagesError(f"metric {distance.name} gave a block of shape {block.shape} for {len(rows)} × {len(cols)} "
                             "architectures")
    with atomic_path(out) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.create_dataset("block", data=block.astype(np.float32))
            h5.attrs.update({
                "metric": distance.name, "params_hash": distance.params_hash(), "pool_sha256": pool_checksum(strings),
                "tiles": tiles, "i": i, "j": j, "seconds": seconds, "block_sha256": content_sha256(block),
                "complete": True,
            })
    return seconds


def merge_tiles(distance: Distance, strings: Sequence[str], tiles: int, tile_paths: Sequence[str | Path],
                out: str | Path, config: dict[str, Any]) -> None:
    """Assemble the tiles into the symmetric N×N matrix file, checking each tile's provenance."""
    n = len(strings)
    bounds = tile_bounds(n, tiles)
    expected = {"metric": distance.name, "params_hash": distance.params_hash(), "pool_sha256": pool_checksum(strings),
                "tiles": tiles}
    terms = _term_shape(distance)
    matrix = np.zeros((*terms, n, n), dtype=np.float32)
    seen = set()
    for path in tile_paths:
        try:
            with h5py.File(path, "r") as h5:
                attrs = dict(h5.attrs)
                block = h5["block"][()]
        except (OSError, KeyError) as exc:
            raise CorruptStoreError(f"distance tile {path} is unreadable ({exc}); delete it and rerun its job") from exc
        for key, value in expected.items():
            if attrs.get(key) != value:
                raise CorruptStoreError(
                    f"distance tile {path} was made with {key}={attrs.get(key)!r}, not {value!r}; "
                    "delete it and rerun its job"
                )
        if attrs.get("block_sha256") != content_sha256(block):
            raise CorruptStoreError(f"distance tile {path} does not match its recorded checksum (damaged since it "
                                    "was written); delete it and rerun its job")
        if not np.isfinite(block).all():
            raise CorruptStoreError(f"distance tile {path} holds non-finite distances; delete it and rerun its job "
                                    "(and report the metric's failure if it recurs)")
        i, j = int(attrs["i"]), int(attrs["j"])
        if block.shape != (*terms, bounds[i + 1] - bounds[i], bounds[j + 1] - bounds[j]):
            raise CorruptStoreError(f"distance tile {path} has shape {block.shape}, not that of tile ({i}, {j}) of "
                                    f"this metric; delete it and rerun its job")
        matrix[..., bounds[i] : bounds[i + 1], bounds[j] : bounds[j + 1]] = block
        matrix[..., bounds[j] : bounds[j + 1], bounds[i] : bounds[i + 1]] = np.swapaxes(block, -1, -2)
        seen.add((i, j))
    missing = sorted(set(tile_pairs(tiles)) - seen)
    if missing:
        raise NasstagesError(f"cannot merge: tiles {missing} are missing")
    diagonal = np.arange(n)
    matrix[..., diagonal, diagonal] = 0.0
    with atomic_path(out) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.create_dataset("distances", data=matrix, chunks=(*(1 for _ in terms), 1, max(n, 1)))
            if terms:
                h5.attrs["terms"] = json.dumps(list(distance.terms))
            h5.create_dataset("archs", data=np.array(list(strings), dtype=object), dtype=h5py.string_dtype())
            h5.attrs.update({
                "format_version": MATRIX_FORMAT_VERSION, "metric": distance.name, "space": distance.space.name,
                "params": json.dumps(distance.params(), sort_keys=True), "params_hash": distance.params_hash(),
                "pool_sha256": expected["pool_sha256"], "distances_sha256": content_sha256(matrix),
                "provenance": json.dumps(provenance(config), sort_keys=True, default=str),
            })
            h5.attrs["complete"] = True


def _term_shape(distance: Distance) -> tuple[int, ...]:
    """(T,) for a stacked metric of T terms, () for one distance."""
    return (len(distance.terms),) if getattr(distance, "stacked", False) else ()


@dataclass
class DistanceMatrix:
    archs: list[str]
    distances: np.ndarray
    metric: str
    params: dict[str, Any]
    params_hash: str


MATRIX_FIX = "delete it and rerun the distances stage (snakemake)"


class MatrixRows:
    """A merged matrix, checked against its recorded checksums when opened, then read by rows.

    The whole matrix is read and verified once per process and file version (a multi-seed search
    job opens it once per seed; 3,256² float32 is 42 MB, ~0.1 s to read and hash). A stacked
    matrix (``terms``) gives terms × rows × cols blocks."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self.archs, self._values, attrs = _verified_matrix(str(path))
        self.metric, self.params = str(attrs["metric"]), json.loads(attrs["params"])
        self.params_hash = str(attrs["params_hash"])
        self.content_sha256 = str(attrs["distances_sha256"])
        self.terms: list[str] | None = json.loads(attrs["terms"]) if "terms" in attrs else None
        self._rows: dict[int, np.ndarray] = {}

    def all(self) -> np.ndarray:
        return self._values

    def rows(self, ids: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """Rows ``ids`` (len(ids) × N, or × len(cols) with ``cols``; float64; a stacked matrix puts
        its terms first)."""
        stacked = self.terms is not None
        if cols is not None:  # only the block asked for is converted (a BO round's candidates × observed)
            ids, cols = np.asarray(ids, dtype=np.int64), np.asarray(cols, dtype=np.int64)
            if stacked:
                return self._values[:, ids[:, None], cols[None, :]].astype(np.float64)
            return self._values[np.ix_(ids, cols)].astype(np.float64)
        for i in map(int, ids):
            if i not in self._rows:
                self._rows[i] = (self._values[:, i] if stacked else self._values[i]).astype(np.float64)
        if not len(ids):
            return np.zeros((*self._values.shape[:-2], 0, len(self.archs)))
        return np.stack([self._rows[int(i)] for i in ids], axis=-2)


_VERIFIED: dict[tuple[str, int, int], tuple[list[str], np.ndarray, dict]] = {}


def _verified_matrix(path: str, remember: bool = True) -> tuple[list[str], np.ndarray, dict]:
    """(archs, read-only matrix, attributes) of a merged matrix file, every check passed; kept for
    the process's later readers with ``remember``."""
    try:
        stat = Path(path).stat()
    except OSError as exc:
        raise CorruptStoreError(f"distance matrix {path} cannot be read ({exc}); {MATRIX_FIX}") from exc
    key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _VERIFIED:
        return _VERIFIED[key]
    try:
        with h5py.File(path, "r") as h5:
            attrs = dict(h5.attrs)
            if not attrs.get("complete") or int(attrs.get("format_version", -1)) != MATRIX_FORMAT_VERSION:
                raise CorruptStoreError(f"distance matrix {path} is partial or of another format (made before "
                                        f"content checksums?); {MATRIX_FIX}")
            archs = [s.decode() for s in h5["archs"][()]]
            values = h5["distances"][()]
    except CorruptStoreError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise CorruptStoreError(f"distance matrix {path} cannot be read ({exc}); {MATRIX_FIX}") from exc
    terms = json.loads(attrs["terms"]) if "terms" in attrs else None
    if values.shape != (*([len(terms)] if terms is not None else []), len(archs), len(archs)):
        raise CorruptStoreError(f"distance matrix {path} has shape {values.shape} for {len(archs)} archs"
                                f"{f' and {len(terms)} terms' if terms is not None else ''}; {MATRIX_FIX}")
    if pool_checksum(archs) != attrs.get("pool_sha256"):
        raise CorruptStoreError(f"distance matrix {path}: its architecture list does not match its recorded "
                                f"checksum; {MATRIX_FIX}")
    if content_sha256(values) != attrs.get("distances_sha256"):
        raise CorruptStoreError(f"distance matrix {path} does not match its recorded checksum (damaged or edited "
                                f"since the merge); {MATRIX_FIX}")
    values.setflags(write=False)
    if remember:
        _VERIFIED[key] = (archs, values, attrs)
    return archs, values, attrs


def read_matrix(path: str | Path) -> DistanceMatrix:
    """Read a merged matrix; raises CorruptStoreError with the fix on a partial or damaged file."""
    archs, values, attrs = _verified_matrix(str(path), remember=False)  # a one-off read holds no memory after
    return DistanceMatrix(archs, values, str(attrs["metric"]), json.loads(attrs["params"]), str(attrs["params_hash"]))
