"""Surrogate models: fit (X, y), predict mean and variance."""

from nasstages.surrogates.gp import DistanceGP, Posterior

__all__ = ["DistanceGP", "Posterior"]
