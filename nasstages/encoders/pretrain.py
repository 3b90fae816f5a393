"""The pretrain stage: train arch2vec on every cell of a space, embed them all, measure the model;
and the representation checks that need benchmark accuracies."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import numpy as np

from nasstages.encoders.arch2vec import Arch2vecConfig, TrainedArch2vec, train_arch2vec
from nasstages.encoders.graphs import graph_tensors
from nasstages.encoders.quality import gp_regression, prior_validity, random_walk_distances, reconstruction_accuracy
from nasstages.encoders.store import Embeddings
from nasstages.errors import ConfigError, reject_unknown_keys
from nasstages.spaces import SearchSpace

log = logging.getLogger(__name__)


def all_cells(space: SearchSpace) -> list:
    """Every architecture of an enumerable space (arch2vec trains on the whole space)."""
    if space.size is None:
        raise ConfigError(f"arch2vec pretraining needs an enumerable space or a benchmark store listing the cells; "
                          f"{space.name} is not enumerable: pass --cells-benchmark/--cells-store (in the config: "
                          f"encoders.{space.name}.cells)")
    return list(space.enumerate())


def pretrain_arch2vec(space: SearchSpace, params: dict[str, Any], seed: int, device: str = "cpu",
                      show_progress: bool = False, archs: list | None = None
                      ) -> tuple[TrainedArch2vec, Embeddings, dict[str, Any]]:
    """Train, embed every cell (``archs``: the cells a benchmark lists, for a space without an
    enumeration), and measure reconstruction (held-out cells) and validity / uniqueness of
    decoded latent samples."""
    config = Arch2vecConfig.from_params(params)
    archs = all_cells(space) if archs is None else list(archs)
    graphs = graph_tensors(space, archs)
    trained = train_arch2vec(graphs, config, seed, device=device, show_progress=show_progress)
    vectors = trained.embed(graphs)
    skeletons = np.unique(graphs.adjacency.astype(np.uint8), axis=0)
    skeleton = skeletons[0] if len(skeletons) == 1 else None  # fixed-skeleton space: ops decide validity
    metrics = {
        "reconstruction_holdout": reconstruction_accuracy(trained, graphs.subset(trained.holdout_index)),
        "reconstruction_train": reconstruction_accuracy(trained, graphs.subset(trained.train_index)),
        "samples_fitted": prior_validity(trained, space, graphs.subset(trained.train_index), config.prior_samples,
                                         seed, skeleton=skeleton, source="fitted"),
        "samples_standard": prior_validity(trained, space, graphs, config.prior_samples, seed, skeleton=skeleton,
                                           source="standard"),
        "history": trained.history,
        "train_seconds": trained.seconds,
        "device": str(trained.device),
        "cells": len(archs),
        "holdout_cells": int(len(trained.holdout_index)),
        "fixed_skeleton": skeleton is not None,
    }
    embeddings = Embeddings(space.name, "arch2vec", [space.to_string(a) for a in archs], vectors,
                            {"config": asdict(config), "metrics": metrics, "seed": seed})
    return trained, embeddings, metrics


def one_hot_features(space: SearchSpace, archs: list) -> np.ndarray:
    """The plain adjacency + ops one-hot encoding, the baseline a learned embedding should beat."""
    graphs = graph_tensors(space, archs)
    n = graphs.adjacency.shape[1]
    upper = np.triu_indices(n, 1)
    return np.concatenate([graphs.adjacency[:, upper[0], upper[1]], graphs.ops.reshape(len(archs), -1)], axis=1)


def graph_edit_distance(space: SearchSpace, archs_a: list, archs_b: list) -> np.ndarray:
    """Node-aligned graph edit distance between cells of equal size: changed node ops plus
    changed edges (on NB201, the number of edges whose operation differs)."""
    a, b = graph_tensors(space, archs_a), graph_tensors(space, archs_b)
    op_a, op_b = a.ops.argmax(-1), b.ops.argmax(-1)
    ops = (op_a[:, None, :] != op_b[None, :, :]).sum(-1)
    edges = np.abs(a.adjacency[:, None] - b.adjacency[None, :]).sum(axis=(-1, -2))
    return (ops + edges).astype(np.float64)


def representation_quality(space: SearchSpace, embeddings: Embeddings, accuracy_of_index: np.ndarray,
                           params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Random-walk smoothness and GP predictiveness of ``embeddings``, beside the one-hot baseline.

    ``accuracy_of_index``: mean validation accuracy of every cell in ``space.enumerate()`` order.
    """
    reject_unknown_keys(params, {"walks", "steps", "gp_train", "gp_seeds", "threshold"}, "encoder quality")
    walks, steps = int(params.get("walks", 200)), int(params.get("steps", 12))
    gp_train, gp_seeds = int(params.get("gp_train", 250)), int(params.get("gp_seeds", 10))
    threshold = float(params.get("threshold", 80.0))
    archs = all_cells(space)
    strings = [space.to_string(a) for a in archs]
    rows = embeddings.rows(strings)
    vectors = embeddings.vectors[rows]
    row_of = {s: k for k, s in enumerate(strings)}
    walk = random_walk_distances(
        space, lambda path: vectors[[row_of[space.to_string(a)] for a in path]],
        lambda a, b: graph_edit_distance(space, a, b), walks, steps, np.random.default_rng(seed))
    means = list(walk.values())
    seeds = [seed + k for k in range(gp_seeds)]
    return {
        "random_walk_l2_by_edit": walk,
        "random_walk_monotone": bool(all(b > a for a, b in zip(means, means[1:]))),
        "gp": {"arch2vec": gp_regression(vectors, accuracy_of_index, gp_train, seeds, threshold),
               "one_hot": gp_regression(one_hot_features(space, archs), accuracy_of_index, gp_train, seeds, threshold)},
        "params": {"walks": walks, "steps": steps, "gp_train": gp_train, "gp_seeds": gp_seeds, "threshold": threshold},
    }
