"""Exact k-DPP sampling (Kulesza & Taskar, ICML 2011, Alg. 1 with the elementary symmetric
polynomials of their Alg. 7 to choose the k eigenvectors), used by TW-NAS's parallel batches."""

from __future__ import annotations

import itertools

import numpy as np


def elementary_symmetric(eigenvalues: np.ndarray, k: int) -> np.ndarray:
    """E[l, n] = e_l(λ_1..λ_n) for l <= k, n <= N (K&T Alg. 7)."""
    n = len(eigenvalues)
    E = np.zeros((k + 1, n + 1))
    E[0, :] = 1.0
    for l in range(1, k + 1):
        for m in range(1, n + 1):
            E[l, m] = E[l, m - 1] + eigenvalues[m - 1] * E[l - 1, m - 1]
    return E


def sample_kdpp(L: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """k distinct indices with P(S) ∝ det(L_S), |S| = k. L must be symmetric PSD of rank >= k."""
    values, vectors = np.linalg.eigh(0.5 * (L + L.T))
    values = np.clip(values, 0.0, None)
    n = len(values)
    if k > np.count_nonzero(values > 1e-12 * max(values.max(), 1e-300)):
        raise ValueError(f"k = {k} exceeds the rank of L")
    E = elementary_symmetric(values, k)
    chosen = []
    remaining = k
    for m in range(n, 0, -1):
        if remaining == 0:
            break
        if m == remaining or rng.random() < values[m - 1] * E[remaining - 1, m - 1] / E[remaining, m]:
            chosen.append(m - 1)
            remaining -= 1
    V = vectors[:, chosen]
    items: list[int] = []
    while V.shape[1] > 0:
        p = np.sum(V**2, axis=1)
        p /= p.sum()
        i = int(rng.choice(n, p=p))
        items.append(i)
        # project V onto the subspace orthogonal to e_i, then re-orthonormalize
        j = int(np.argmax(np.abs(V[i])))
        Vj = V[:, j].copy()
        V = np.delete(V, j, axis=1)
        if V.shape[1]:
            V = V - np.outer(Vj, V[i] / Vj[i])
            V, _ = np.linalg.qr(V)
    return sorted(items)


def kdpp_probabilities(L: np.ndarray, k: int) -> dict[tuple[int, ...], float]:
    """P(S) for every k-subset by enumeration (for tests on tiny ground sets)."""
    subsets = list(itertools.combinations(range(len(L)), k))
    dets = np.array([np.linalg.det(L[np.ix_(s, s)]) for s in subsets])
    return dict(zip(subsets, dets / dets.sum()))
