"""How good is a learned representation? The checks of the arch2vec paper (Sec. 4.1-4.2).

- reconstruction accuracy on held-out cells (every op and edge decoded right);
- validity and uniqueness of graphs decoded from prior samples z ~ N(0, I);
- smoothness: L2 distance between embeddings against edit distance along random walks;
- predictiveness: GP regression on a few cells' embeddings predicting all others' accuracy.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from scipy.spatial.distance import cdist
from scipy.stats import pearsonr

from nasstages.encoders.arch2vec import TrainedArch2vec, decode_graphs
from nasstages.encoders.graphs import GraphTensors
from nasstages.spaces import Arch, SearchSpace
from nasstages.surrogates.gp import DistanceGP


def reconstruction_accuracy(trained: TrainedArch2vec, graphs: GraphTensors) -> dict[str, float]:
    """Fractions of ``graphs`` whose ops / upper-triangle edges / both decode exactly (from μ)."""
    adjacency, ops = trained.reconstruct(graphs)
    n = graphs.adjacency.shape[1]
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    ops_ok = np.all(ops == graphs.ops.argmax(-1), axis=1)
    adjacency_ok = np.all(adjacency[:, upper] == graphs.adjacency[:, upper].astype(np.uint8), axis=1)
    return {"ops": float(ops_ok.mean()), "adjacency": float(adjacency_ok.mean()),
            "graph": float((ops_ok & adjacency_ok).mean())}


@torch.no_grad()
def prior_validity(trained: TrainedArch2vec, space: SearchSpace, graphs: GraphTensors, samples: int, seed: int,
                   skeleton: np.ndarray | None = None, source: str = "fitted") -> dict[str, float]:
    """Decode ``samples`` latent draws and check them against ``space``.

    ``source="fitted"`` draws each node's z from N(mean, std²) of the posterior means μ of
    ``graphs`` at that node position, as the arch2vec code does for its validity numbers;
    ``source="standard"`` draws from N(0, I). ``validity``: fraction that is a cell of the space;
    with ``skeleton`` given (fixed-skeleton spaces such as NB201) only the ops decide, as in the
    paper's NB201 check, and ``validity_strict`` also requires every decoded edge to be right.
    ``uniqueness``: distinct valid cells / valid cells.

    On fixed-skeleton spaces it also gives the arch2vec code's own definitions
    (``models/pretraining_nasbench201.py`` with ``utils.is_valid_nasbench201``), which its published
    NB201 numbers use: ``validity_reference`` asks only that the first op decode as input, the last
    as output and nodes 2..n−2 as operations (node 1 is never checked: the reference loops from 2),
    and ``uniqueness_reference`` counts distinct nasbench ``hash_module`` fingerprints of the
    *decoded* adjacency and ops among those, so two samples with equal ops but different decoded
    edges are two.
    """
    generator = torch.Generator(device=trained.device).manual_seed(seed)
    shape = (samples, trained.n_nodes, trained.config.latent)
    z = torch.randn(shape, generator=generator, device=trained.device)
    if source == "fitted":
        mu = torch.as_tensor(trained.node_means(graphs), device=trained.device)
        z = z * mu.std(dim=0) + mu.mean(dim=0)
    elif source != "standard":
        raise ValueError(f"source must be fitted or standard, not {source!r}")
    adjacency, ops = decode_graphs(trained.model, z)
    valid: list[Arch] = []
    strict = 0
    for a, o in zip(adjacency, ops):
        names = [trained.vocabulary[k] for k in o]
        try:
            arch = space.from_cell_graph(a if skeleton is None else skeleton, names)
        except ValueError:
            continue
        valid.append(arch)
        if skeleton is None or np.array_equal(a, skeleton):
            strict += 1
    unique = len({space.to_string(a) for a in valid})
    out = {"validity": len(valid) / samples, "validity_strict": strict / samples,
           "uniqueness": unique / len(valid) if valid else 0.0}
    if skeleton is not None:
        out.update(_reference_validity(trained.vocabulary, adjacency, ops, samples))
    return out


def _reference_validity(vocabulary: Sequence[str], adjacency: np.ndarray, ops: np.ndarray,
                        samples: int) -> dict[str, float]:
    """Validity and uniqueness exactly as arch2vec's NB201 pretraining script counts them."""
    from nasstages.spaces.nb101 import hash_module  # nasbench's graph_util.hash_module

    operations = {op for op in vocabulary if op not in ("input", "output")}
    fingerprints = set()
    valid = 0
    for a, o in zip(adjacency, ops):
        names = [vocabulary[k] for k in o]
        if names[0] != "input" or names[-1] != "output" or any(n not in operations for n in names[2:-1]):
            continue
        valid += 1
        matrix = tuple(tuple(int(x) for x in row) for row in np.triu(np.asarray(a), 1))
        fingerprints.add(hash_module(matrix, [int(k) for k in o]))
    return {"validity_reference": valid / samples,
            "uniqueness_reference": len(fingerprints) / valid if valid else 0.0}


def random_walk_distances(space: SearchSpace, embed: Callable[[Sequence[Arch]], np.ndarray],
                          edit: Callable[[Sequence[Arch], Sequence[Arch]], np.ndarray], walks: int, steps: int,
                          rng: np.random.Generator) -> dict[int, float]:
    """Mean L2 distance between a walk's start and each later cell, grouped by their edit
    distance (walks of random single mutations). A smooth space grows monotonically."""
    sums: dict[int, list[float]] = {}
    for _ in range(walks):
        path = [space.sample(rng)]
        for _ in range(steps):
            path.append(space.mutate(path[-1], rng))
        vectors = embed(path)
        l2 = np.linalg.norm(vectors[1:] - vectors[0], axis=1)
        edits = np.rint(edit(path[:1], path[1:])[0]).astype(int)
        for e, d in zip(edits, l2):
            sums.setdefault(int(e), []).append(float(d))
    return {e: float(np.mean(v)) for e, v in sorted(sums.items()) if e > 0}


def gp_regression(features: np.ndarray, accuracy: np.ndarray, train_size: int, seeds: Sequence[int],
                  threshold: float = 80.0) -> dict[str, float]:
    """GP (squared-exponential kernel on L2 distances) fit on ``train_size`` random cells, scored
    on all others with accuracy above ``threshold``: RMSE and Pearson r, mean ± std over seeds."""
    rmse, pearson = [], []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(features))
        train, test = order[:train_size], order[train_size:]
        test = test[accuracy[test] > threshold]
        gp = DistanceGP(form="squared", train_iters=100)
        gp.fit(cdist(features[train], features[train]), accuracy[train])
        predicted = np.concatenate([gp.predict(cdist(features[chunk], features[train])).mean
                                    for chunk in np.array_split(test, max(1, len(test) // 1000))])
        rmse.append(float(np.sqrt(np.mean((predicted - accuracy[test]) ** 2))))
        pearson.append(float(pearsonr(predicted, accuracy[test]).statistic))
    return {"rmse": float(np.mean(rmse)), "rmse_std": float(np.std(rmse)),
            "pearson": float(np.mean(pearson)), "pearson_std": float(np.std(pearson)),
            "train_size": train_size, "seeds": len(seeds), "threshold": threshold}
