"""Pairwise architecture distances, registered by the names configs use.

The compiled solvers (numba) are imported only when a distance that needs them is computed,
so importing nasstages stays fast.
"""

import inspect

from nasstages.distances.base import Distance
from nasstages.distances.embedding import Arch2vecDistance, EmbeddingL2
from nasstages.distances.hotnn import HOTNN
from nasstages.distances.otmann import OTMANN, OTMANNLpEmd
from nasstages.distances.simple import AnasodDistance, EditDistance, PathDistance
from nasstages.distances.tree_wasserstein import TreeWasserstein
from nasstages.registry import Registry
from nasstages.spaces import SearchSpace

DISTANCES: Registry[Distance] = Registry("distance metric")
for _cls in (HOTNN, OTMANN, OTMANNLpEmd, TreeWasserstein, EditDistance, PathDistance, AnasodDistance, EmbeddingL2,
             Arch2vecDistance):
    DISTANCES.register(_cls.name)(_cls)


def make_distance(name: str, space: SearchSpace, params: dict | None = None, where: str = "",
                  device: str = "cpu") -> Distance:
    """Build metric ``name`` for ``space``; unknown names or parameters fail naming the choices.

    ``device`` (cpu, cuda, auto) reaches the metrics that have a GPU engine; the others ignore it.
    """
    params = params or {}
    DISTANCES.check_params(name, params, where)
    factory = DISTANCES.get(name)
    extra = {"device": device} if "device" in inspect.signature(factory).parameters else {}
    return factory(space, **params, **extra)


# metrics that read a pretrained encoder's embeddings: the workflow passes the file as "embeddings"
ENCODER_OF_METRIC = {"arch2vec": "arch2vec"}

__all__ = ["DISTANCES", "ENCODER_OF_METRIC", "Distance", "make_distance"]
