"""Euclidean distance between learned architecture embeddings (the encoder stage's output).

The embedding file is HDF5 with ``archs`` (strings) and ``embeddings`` (N×d); the encoder
issue writes it, any other source of vectors per architecture string can too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nasstages.distances.base import FeatureDistance
from nasstages.encoders.store import read_embeddings
from nasstages.errors import ConfigError
from nasstages.io import sha256_file
from nasstages.spaces import Arch, SearchSpace


class EmbeddingL2(FeatureDistance):
    """L2 distance between the embeddings stored for each architecture string."""

    name = "embedding_l2"
    metric = "euclidean"

    def __init__(self, space: SearchSpace, embeddings: str = "") -> None:
        super().__init__(space)
        path = Path(embeddings)
        if not embeddings or not path.is_file():
            raise ConfigError(
                f"{self.name}: embeddings file {embeddings!r} not found; set the metric's 'embeddings' parameter "
                "to an HDF5 file with 'archs' and 'embeddings' (the pretrain stage writes one)"
            )
        table = read_embeddings(path)
        if table.space != space.name:
            raise ConfigError(f"{self.name}: {path} embeds space {table.space!r}, not {space.name!r}")
        self.vectors = table.vectors
        self.row = {text: k for k, text in enumerate(table.archs)}
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
