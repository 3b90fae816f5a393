"""Euclidean distance between learned architecture embeddings (the encoder stage's output).

The embedding file is HDF5 with ``archs`` (strings) and ``embeddings`` (N×d); the encoder
issue writes it, any other source of vectors per architecture string can too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np

from nasstages.distances.base import FeatureDistance
from nasstages.encoders.store import read_embeddings
from nasstages.errors import ConfigError
from nasstages.io import sha256_file
from nasstages.spaces import Arch, SearchSpace


def _read_vectors(path: Path, space: SearchSpace, metric: str) -> tuple[list[str], np.ndarray]:
    """(arch strings, vectors): a pretrain-stage file is read and verified by ``read_embeddings``;
    any other HDF5 file with ``archs`` and ``embeddings`` is read as it is."""
    try:
        with h5py.File(path, "r") as h5:
            if "format_version" not in h5.attrs:
                strings = [s.decode() if isinstance(s, bytes) else str(s) for s in h5["archs"][()]]
                return strings, np.asarray(h5["embeddings"][()], dtype=np.float64)
    except (OSError, KeyError) as exc:
        raise ConfigError(f"{metric}: {path} is not an HDF5 file with 'archs' and 'embeddings' ({exc}); "
                          "re-run the pretrain stage or fix the file") from None
    table = read_embeddings(path)
    if table.space != space.name:
        raise ConfigError(f"{metric}: {path} embeds space {table.space!r}, not {space.name!r}")
    return table.archs, table.vectors


class EmbeddingL2(FeatureDistance):
    """L2 distance between the embeddings stored for each architecture string."""

    name = "embedding_l2"
    metric = "euclidean"
    # each cell string's own vector: an encoder (arch2vec's reference code too) embeds the raw cell,
    # dead parts included, so canonical duplicates may sit apart
    canonical = False

    def __init__(self, space: SearchSpace, embeddings: str = "") -> None:
        super().__init__(space)
        path = Path(embeddings)
        if not embeddings or not path.is_file():
            raise ConfigError(
                f"{self.name}: embeddings file {embeddings!r} not found; set the metric's 'embeddings' parameter "
                "to an HDF5 file with 'archs' and 'embeddings' (the pretrain stage writes one)"
            )
        strings, self.vectors = _read_vectors(path, space, self.name)
        self.row = {text: k for k, text in enumerate(strings)}
        self.path = path
        self.checksum = sha256_file(path)

    def params(self) -> dict[str, Any]:
        return {"embeddings": str(self.path), "sha256": self.checksum}

    def features(self, archs: Sequence[Arch]) -> np.ndarray:
        strings = [self.space.to_string(a) for a in archs]
        missing = [s for s in strings if s not in self.row]
        if missing:
            raise ConfigError(f"{self.name}: {len(missing)} architectures have no embedding in {self.path}, "
                              f"e.g. {missing[0]!r}; embed the same pool")
        return self.vectors[[self.row[s] for s in strings]]


class Arch2vecDistance(EmbeddingL2):
    """L2 between arch2vec embeddings (the pretrain stage's file; the workflow passes its path)."""

    name = "arch2vec"
    requires = {"single_cell": "arch2vec embeds one fixed-size cell graph"}
