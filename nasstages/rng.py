"""Per-job random generators derived from (global seed, job identity); never the global RNG."""

from __future__ import annotations

import hashlib

import numpy as np


def job_seed_sequence(global_seed: int, *identity: object) -> np.random.SeedSequence:
    """A SeedSequence that depends only on the global seed and the job's identity.

    The identity (e.g. benchmark, dataset, method, seed) is hashed with SHA-256 rather than
    Python's ``hash`` so that it is stable across processes and machines.
    """
    text = "\x1f".join(str(part) for part in identity)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.SeedSequence([int(global_seed), *words])


def job_rng(global_seed: int, *identity: object) -> np.random.Generator:
    """A numpy Generator for one job, see :func:`job_seed_sequence`."""
    return np.random.default_rng(job_seed_sequence(global_seed, *identity))
