"""Acquisitions on a GP posterior: UCB (with the GP-UCB β schedule), EI, Thompson sampling and the
quality k-DPP of TW-NAS. Each is a small object with ``select(posterior, n, context) -> indices``
and a ``joint`` flag (does it need the candidates' joint covariance), so a BO method is a
composition of a surrogate, one of these and a candidate generator (BoTorch's separation)."""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass

import numpy as np

from nasstages.errors import ConfigError
from nasstages.search.kdpp import sample_kdpp
from nasstages.surrogates.gp import Posterior

ACQUISITIONS = ("ucb", "ei", "ts")


def ucb_beta(t: int, delta: float = 0.1, scale: float = 0.2) -> float:
    """β_t = scale · 2 log(t² π² / (6δ)) (Srinivas et al., 2010, Thm. 1, finite domain without |D|),
    the schedule HOTNAS's UCB uses; ``scale`` < 1 is the usual practical shrinkage."""
    t = max(t, 1)
    return scale * 2.0 * math.log(t * t * math.pi**2 / (6.0 * delta))


def upper_confidence_bound(mean: np.ndarray, var: np.ndarray, beta: float) -> np.ndarray:
    return mean + math.sqrt(beta) * np.sqrt(np.clip(var, 0.0, None))


_ERFC = np.frompyfunc(math.erfc, 1, 1)


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Φ(z) = erfc(−z/√2)/2 with libm's erfc (full precision in both tails); importing
    scipy.special or scipy.stats for it would add 0.05–0.3 s to every BO job's start."""
    return _ERFC(-np.asarray(z, dtype=np.float64) / math.sqrt(2.0)).astype(np.float64) * 0.5


def expected_improvement(mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
    """E[max(f − best, 0)] under N(mean, var) (maximization)."""
    std = np.sqrt(np.clip(var, 1e-18, None))
    z = (mean - best) / std
    return (mean - best) * normal_cdf(z) + std * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def thompson_sample(mean: np.ndarray, covariance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One joint posterior sample (covariance made PSD by clipping its eigenvalues)."""
    values, vectors = np.linalg.eigh(0.5 * (covariance + covariance.T))
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    return mean + root @ rng.standard_normal(len(mean))


@dataclass
class AcquisitionContext:
    """What an acquisition may know besides the posterior: the round and the observations."""

    step: int  # 1-based index of the next query (t in GP-UCB)
    best_observed: float
    rng: np.random.Generator


class Acquisition(abc.ABC):
    """Chooses ``n`` of the candidates from their posterior."""

    #: needs the joint posterior covariance of the candidates (not only the marginals)
    joint = False

    @abc.abstractmethod
    def select(self, posterior: Posterior, n: int, context: AcquisitionContext) -> list[int]:
        """Indices of the chosen candidates, best first (distinct)."""

    def values(self, posterior: Posterior, context: AcquisitionContext) -> np.ndarray:
        """Each candidate's acquisition value on its own (what an optimiser of the acquisition
        climbs); only marginal acquisitions have one."""
        raise ConfigError(f"{type(self).__name__} scores candidates jointly, not one by one: an evolutionary "
                          "acquisition optimiser (candidates: evolution) needs acquisition ucb or ei")


def _top(score: np.ndarray, n: int) -> list[int]:
    return [int(i) for i in np.argsort(-score, kind="stable")[:n]]


class UCB(Acquisition):
    """mean + √β_t · std with GP-UCB's β_t schedule (:func:`ucb_beta`)."""

    def __init__(self, beta_scale: float = 0.2, delta: float = 0.1) -> None:
        self.beta_scale, self.delta = beta_scale, delta

    def values(self, posterior: Posterior, context: AcquisitionContext) -> np.ndarray:
        beta = ucb_beta(context.step, delta=self.delta, scale=self.beta_scale)
        return upper_confidence_bound(posterior.mean, posterior.var, beta)

    def select(self, posterior: Posterior, n: int, context: AcquisitionContext) -> list[int]:
        return _top(self.values(posterior, context), n)


class EI(Acquisition):
    """Expected improvement over the best observed accuracy."""

    def values(self, posterior: Posterior, context: AcquisitionContext) -> np.ndarray:
        return expected_improvement(posterior.mean, posterior.var, context.best_observed)

    def select(self, posterior: Posterior, n: int, context: AcquisitionContext) -> list[int]:
        return _top(self.values(posterior, context), n)


class ThompsonSampling(Acquisition):
    """Each pick: the argmax of one joint posterior sample, among the candidates not yet picked."""

    joint = True

    def select(self, posterior: Posterior, n: int, context: AcquisitionContext) -> list[int]:
        picks: list[int] = []
        while len(picks) < min(n, len(posterior.mean)):
            sample = thompson_sample(posterior.mean, posterior.covariance, context.rng)
            sample[picks] = -np.inf
            picks.append(int(np.argmax(sample)))
        return picks


class QualityKDPP(Acquisition):
    """A batch of k from the quality k-DPP of TW-NAS (Nguyen et al., ICML 2021, §4.2).

    The paper: L = diag(q) Σ diag(q), Σ the GP posterior covariance of the candidates (diversity
    *and* uncertainty) and q_i the quality of candidate i; the authors' code (``GP_KDPP_Quality``)
    scores q = exp(−μ) with μ the predicted validation loss, i.e. q ∝ exp(μ_acc) in percentage
    points (a constant factor of q rescales L, which a k-DPP ignores), but builds L with an
    elementwise product, which makes L diagonal (no diversity left); we follow the paper
    (``kernel: covariance``, ``quality: raw``, the default) and say so.

    Our earlier form, kept as the variant ``twnas_kdpp_corr``: ``kernel: correlation`` (the
    posterior correlation: uncertainty drops out) with ``quality: standardized``
    (q = exp(w · z), z the standardized posterior mean)."""

    joint = True
    KERNELS = ("covariance", "correlation")
    QUALITIES = ("raw", "standardized")

    def __init__(self, quality_weight: float = 1.0, kernel: str = "covariance", quality: str = "raw") -> None:
        if kernel not in self.KERNELS or quality not in self.QUALITIES:
            raise ConfigError(f"k-DPP kernel must be one of {self.KERNELS} and quality one of {self.QUALITIES}, "
                              f"not {kernel!r} / {quality!r}")
        self.quality_weight, self.kernel, self.quality = quality_weight, kernel, quality

    def L(self, posterior: Posterior) -> np.ndarray:
        """The k-DPP's L-ensemble over the candidates."""
        mean = posterior.mean
        if self.quality == "raw":  # exp(w μ), shifted by max μ (a constant factor: same k-DPP)
            quality = np.exp(self.quality_weight * (mean - mean.max()))
        else:
            quality = np.exp(self.quality_weight * (mean - mean.mean()) / (mean.std() or 1.0))
        similarity = posterior.covariance
        if self.kernel == "correlation":
            sd = np.sqrt(np.clip(np.diag(similarity), 1e-12, None))
            similarity = similarity / np.outer(sd, sd)
        L = quality[:, None] * similarity * quality[None, :]
        # a ridge so that rank(L) >= k: relative to L's scale (raw qualities reach e^-20), absolute
        # in the earlier form, whose qualities are O(1) (kept as it was: its results stay comparable)
        ridge = 1e-9 if (self.kernel, self.quality) == ("correlation", "standardized") else \
            1e-9 * float(np.max(np.diag(L), initial=0.0) or 1.0)
        return L + ridge * np.eye(len(quality))

    def select(self, posterior: Posterior, n: int, context: AcquisitionContext) -> list[int]:
        k = min(n, len(posterior.mean))
        return sample_kdpp(self.L(posterior), k, context.rng)


def make_acquisition(name: str, beta_scale: float = 0.2) -> Acquisition:
    """The single-point acquisition a config names (ucb, ei, ts)."""
    if name == "ucb":
        return UCB(beta_scale=beta_scale)
    if name == "ei":
        return EI()
    if name == "ts":
        return ThompsonSampling()
    raise ConfigError(f"acquisition must be one of {', '.join(ACQUISITIONS)}, not {name!r}")
