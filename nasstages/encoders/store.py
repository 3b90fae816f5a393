"""Encoder files: the model (``.pt``) and the embeddings of every cell with metrics (``.h5``).

The HDF5 file has ``archs`` (strings) and ``embeddings`` (N×d), the layout the
``embedding_l2``/``arch2vec`` distances and the arch2vec search methods read; its attributes
hold the training config, metrics and provenance as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np

from nasstages.errors import ConfigError, CorruptStoreError
from nasstages.io import atomic_path, labelled_arrays_sha256

FORMAT_VERSION = 2  # 2: content checksum (content_sha256 over the arch strings and float32 vectors)


def _content_sha256(archs: Sequence[str], vectors: np.ndarray) -> str:
    return labelled_arrays_sha256(list(archs), {"embeddings": np.asarray(vectors, dtype=np.float32)})


@dataclass
class Embeddings:
    """Vectors per architecture string, with what produced them."""

    space: str
    encoder: str
    archs: list[str]
    vectors: np.ndarray
    attrs: dict[str, Any]

    def rows(self, strings: Sequence[str]) -> np.ndarray:
        """Row indices of ``strings``; ConfigError naming one that has no embedding."""
        index = {s: k for k, s in enumerate(self.archs)}
        try:
            return np.array([index[s] for s in strings], dtype=np.int64)
        except KeyError as exc:
            raise ConfigError(f"{self.encoder} embeddings have no row for {exc.args[0]!r}; "
                              "re-run the pretrain stage on this space") from None


def write_embeddings(path: str | Path, embeddings: Embeddings) -> None:
    """Atomically write ``embeddings`` (marked complete only once fully written)."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("archs", data=np.array(embeddings.archs, dtype=object), dtype=h5py.string_dtype())
        h5.create_dataset("embeddings", data=embeddings.vectors.astype(np.float32))
        h5.attrs["format_version"] = FORMAT_VERSION
        h5.attrs["content_sha256"] = _content_sha256(embeddings.archs, embeddings.vectors)
        h5.attrs["space"] = embeddings.space
        h5.attrs["encoder"] = embeddings.encoder
        for key, value in embeddings.attrs.items():
            h5.attrs[key] = json.dumps(value, sort_keys=True, default=str)
        h5.attrs["complete"] = True


def read_embeddings(path: str | Path) -> Embeddings:
    """Read and check an embeddings file; CorruptStoreError naming the fix otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"embeddings file {path} not found; run the pretrain stage (snakemake {path})")
    fix = f"delete {path} and re-run the pretrain stage"
    try:
        with h5py.File(path, "r") as h5:
            if not h5.attrs.get("complete", False) or h5.attrs.get("format_version") != FORMAT_VERSION:
                raise CorruptStoreError(f"{path} is unfinished or of another format version; {fix}")
            archs = [s.decode() if isinstance(s, bytes) else str(s) for s in h5["archs"][()]]
            stored = h5["embeddings"][()]
            vectors = np.asarray(stored, dtype=np.float64)
            recorded = h5.attrs.get("content_sha256")
            attrs = {k: json.loads(v) for k, v in h5.attrs.items()
                     if k not in ("format_version", "space", "encoder", "complete", "content_sha256")}
            space, encoder = str(h5.attrs["space"]), str(h5.attrs["encoder"])
    except (OSError, KeyError) as exc:
        raise CorruptStoreError(f"{path} is not a readable embeddings file ({exc}); {fix}") from exc
    if vectors.shape[0] != len(archs) or not np.all(np.isfinite(vectors)):
        raise CorruptStoreError(f"{path}: embeddings do not match the archs or hold NaN; {fix}")
    if recorded != _content_sha256(archs, stored):
        raise CorruptStoreError(f"{path} does not match its recorded checksum (damaged or edited since it was "
                                f"written); {fix}")
    return Embeddings(space, encoder, archs, vectors, attrs)
