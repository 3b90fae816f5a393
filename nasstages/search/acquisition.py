"""Acquisition functions on a GP posterior: UCB (with the GP-UCB β schedule), EI, Thompson sampling."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

ACQUISITIONS = ("ucb", "ei", "ts")


def ucb_beta(t: int, delta: float = 0.1, scale: float = 0.2) -> float:
    """β_t = scale · 2 log(t² π² / (6δ)) (Srinivas et al., 2010, Thm. 1, finite domain without |D|),
    the schedule HOTNAS's UCB uses; ``scale`` < 1 is the usual practical shrinkage."""
    t = max(t, 1)
    return scale * 2.0 * math.log(t * t * math.pi**2 / (6.0 * delta))


def upper_confidence_bound(mean: np.ndarray, var: np.ndarray, beta: float) -> np.ndarray:
    return mean + math.sqrt(beta) * np.sqrt(np.clip(var, 0.0, None))


def expected_improvement(mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
    """E[max(f − best, 0)] under N(mean, var) (maximization)."""
    std = np.sqrt(np.clip(var, 1e-18, None))
    z = (mean - best) / std
    return (mean - best) * norm.cdf(z) + std * norm.pdf(z)


def thompson_sample(mean: np.ndarray, covariance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One joint posterior sample (covariance made PSD by clipping its eigenvalues)."""
    values, vectors = np.linalg.eigh(0.5 * (covariance + covariance.T))
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    return mean + root @ rng.standard_normal(len(mean))
