"""The `estimate` stage: one zero-shot proxy for every architecture of a pool, computed in tiles
(separate jobs, like the distance matrices) and merged into one verified HDF5 file.

Each network is built with weights drawn from a seed derived from (global seed, proxy, arch), and
scored on one fixed minibatch: real images of the configured CIFAR archive when one is given, else
Gaussian noise of CIFAR shape (the file and the diagnosis say which). Layout (format version 1):
``/archs`` (strings), ``/scores`` (float64), root attributes ``proxy``, ``data``, ``seconds``,
``provenance`` and, last, ``complete``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np

from nasstages.errors import CorruptStoreError
from nasstages.io import atomic_path, labelled_arrays_sha256

FORMAT_VERSION = 2  # 2: content checksum (content_sha256 over the arch strings and scores)


def minibatch(batch_size: int, seed: int, data: str | Path | None = None, dataset: str = "cifar10",
              md5: str | None = None) -> tuple[Any, Any, str]:
    """(images, labels, description): a fixed normalized minibatch, real or synthetic."""
    import torch

    rng = np.random.default_rng(seed)
    if data:
        from nasstages.evaluators.cifar import load_cifar, normalizer

        cifar = load_cifar(dataset, data, md5)
        index = rng.choice(len(cifar.train_y), batch_size, replace=False)
        mean, std = normalizer(dataset, dtype=torch.float64)
        x = (torch.from_numpy(cifar.train_x[index]).double() - mean) / std
        return x.float(), torch.from_numpy(cifar.train_y[index]), f"real: {batch_size} {dataset} training images"
    x = torch.from_numpy(rng.standard_normal((batch_size, 3, 32, 32))).float()
    y = torch.from_numpy(rng.integers(0, 10, batch_size))
    return x, y, f"synthetic: {batch_size} Gaussian images (no dataset configured)"


def tile_rows(n: int, tiles: int, tile: int) -> range:
    bounds = np.linspace(0, n, tiles + 1).round().astype(int)
    return range(int(bounds[tile]), int(bounds[tile + 1]))


def score_archs(space_name: str, archs: Sequence[Any], proxy: str, inputs: Any, targets: Any, global_seed: int,
                num_classes: int = 10, device: str = "cpu", progress: bool = False, replicate: int = 0) -> np.ndarray:
    """The proxy of each NB201 network, each initialized from its own derived seed (one more
    identity element per ``replicate`` > 0, for the variance across seeds)."""
    import torch
    from tqdm import tqdm

    from nasstages.evaluators.proxies import score
    from nasstages.evaluators.proxy_names import NETWORK_BUILDERS
    from nasstages.registry import import_target
    from nasstages.rng import job_seed_sequence
    from nasstages.spaces import get_space

    if space_name not in NETWORK_BUILDERS:
        raise ValueError(f"the estimate stage builds networks of {', '.join(NETWORK_BUILDERS)}; space "
                         f"{space_name!r} has no builder (nasstages.evaluators.proxy_names.NETWORK_BUILDERS)")
    network_class = import_target(NETWORK_BUILDERS[space_name])
    space = get_space(space_name)
    inputs, targets = inputs.to(device), targets.to(device)
    out = np.empty(len(archs))
    for k, arch in enumerate(tqdm(archs, disable=not progress, mininterval=5.0, desc=proxy)):
        identity = ("estimate", proxy, space.to_string(arch), *((replicate,) if replicate else ()))
        seed = int(job_seed_sequence(global_seed, *identity).generate_state(1)[0])
        torch.manual_seed(seed)
        model = network_class(arch, num_classes).to(device)
        out[k] = score(proxy, model, inputs, targets)
    return out


def write_estimates(path: str | Path, archs: list[str], scores: np.ndarray, attrs: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("archs", data=np.array(archs, dtype=h5py.string_dtype()))
            f.create_dataset("scores", data=np.asarray(scores, dtype=np.float64))
            for key, value in attrs.items():
                f.attrs[key] = json.dumps(value) if isinstance(value, (dict, list)) else value
            f.attrs["content_sha256"] = _content_sha256(archs, np.asarray(scores, dtype=np.float64))
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["complete"] = True


def read_estimates(path: str | Path) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    """(arch strings, scores, attributes); CorruptStoreError naming the fix otherwise."""
    fix = f"delete {path} and rerun the estimate stage"
    try:
        with h5py.File(path, "r") as f:
            if not f.attrs.get("complete") or f.attrs.get("format_version") != FORMAT_VERSION:
                raise CorruptStoreError(f"{path} is incomplete or of another format version; {fix}")
            archs = [a.decode() if isinstance(a, bytes) else str(a) for a in f["archs"][()]]
            scores = f["scores"][()]
            attrs = {k: v for k, v in f.attrs.items()}
    except CorruptStoreError:
        raise
    except (OSError, KeyError) as exc:
        raise CorruptStoreError(f"{path} cannot be read as an estimate file ({exc}); {fix}") from None
    if len(archs) != len(scores):
        raise CorruptStoreError(f"{path}: {len(archs)} archs but {len(scores)} scores; {fix}")
    if attrs.get("content_sha256") != _content_sha256(archs, scores):
        raise CorruptStoreError(f"{path} does not match its recorded checksum (damaged or edited since it was "
                                f"written); {fix}")
    return archs, scores, attrs


def _content_sha256(archs: Sequence[str], scores: np.ndarray) -> str:
    return labelled_arrays_sha256(list(archs), {"scores": np.asarray(scores, dtype=np.float64)})


def merge_estimates(inputs: Sequence[str | Path], out: str | Path, provenance: dict[str, Any]) -> None:
    """Concatenate tiles (in the given order) into one file."""
    archs: list[str] = []
    scores: list[np.ndarray] = []
    attrs: dict[str, Any] = {}
    seconds = 0.0
    for path in inputs:
        a, s, at = read_estimates(path)
        archs += a
        scores.append(s)
        seconds += float(at.get("seconds", 0.0))
        attrs = {k: at[k] for k in ("proxy", "data")}
    write_estimates(out, archs, np.concatenate(scores), {**attrs, "seconds": seconds, "provenance": provenance})


def timed_tile(space_name: str, archs: Sequence[Any], strings: list[str], proxy: str,
               batches: Sequence[tuple[Any, Any, str]], global_seed: int, out: str | Path, device: str,
               provenance: dict[str, Any]) -> float:
    """Score a tile once per minibatch (replicate r: its own batch and network seeds); scores are
    (n,) for one replicate, (n, replicates) otherwise."""
    started = time.perf_counter()
    columns = [score_archs(space_name, archs, proxy, inputs, targets, global_seed, device=device, progress=True,
                           replicate=r) for r, (inputs, targets, _) in enumerate(batches)]
    scores = columns[0] if len(columns) == 1 else np.stack(columns, axis=1)
    seconds = time.perf_counter() - started
    batch = batches[0]
    write_estimates(out, strings, scores, {"proxy": proxy, "data": batch[2], "seconds": seconds,
                                           "provenance": provenance})
    return seconds


def replicate_batches(proxy: str, replicates: int, batch_size: int, global_seed: int, data: str | Path | None,
                      dataset: str, md5: str | None) -> list[tuple[Any, Any, str]]:
    """The minibatch of each replicate a proxy is scored with: data-free proxies see an all-ones input
    (synflow) or only its shape, so no archive is read; deterministic ones (#params, FLOPs) get one
    replicate, there being nothing random to vary. Replicate r's batch seed derives from the global
    seed and r (r = 0: the same batch every proxy sees)."""
    from nasstages.evaluators.proxy_names import DATA_FREE, DETERMINISTIC
    from nasstages.rng import job_seed_sequence

    data_free = proxy in DATA_FREE
    batches = []
    for r in range(1 if proxy in DETERMINISTIC else replicates):
        seed = int(job_seed_sequence(global_seed, "estimate-batch", *((r,) if r else ())).generate_state(1)[0])
        batch = minibatch(batch_size, seed, None if data_free else data, dataset, md5)
        batches.append((batch[0], batch[1], "none (data-free)") if data_free else batch)
    return batches
