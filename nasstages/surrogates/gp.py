"""Gaussian-process surrogate on a distance between architectures (numpy; the search's hot path).

k(a, b) = σ² exp(−d(a, b)/ℓ) (``form='exp'``) or σ² exp(−d(a, b)²/(2ℓ²)) (``form='squared'``),
a constant mean m and Gaussian noise τ, on standardized targets z (Rasmussen & Williams 2006,
§2.2, eqs. 2.25–2.26 for the posterior, eq. 5.8–5.9 for the marginal likelihood and its gradient).
The caller supplies distance matrices, so any metric (precomputed or on the fly) works.

Hyperparameters (log σ², log ℓ, log τ, m) maximize the exact log marginal likelihood with a
box-constrained quasi-Newton method (:mod:`nasstages.surrogates.optimize`) on analytic gradients: ∂(−log p)/∂θ = ½ Σ_ij (K⁻¹ − ααᵀ)_ij (∂K/∂θ)_ij, α = K⁻¹(z − m).
One fit is a few dozen n×n Cholesky factorizations: milliseconds at n ≤ 150, where the GPyTorch
model this replaces (:mod:`nasstages.surrogates.gpytorch_gp`, kept as the test oracle) spent
~1.2 s importing and ~0.1 s per fit in Adam steps; the posterior at m candidates is one n×m
triangular solve.

exp(−d/ℓ) is positive definite only when d is negative definite (tree-Wasserstein, Hamming);
for other distances (HOTNN, OTMANN) the training Gram matrix may be indefinite. ``psd='clip'``
then clips its negative eigenvalues to zero (a projection onto the PSD cone; its derivative by
the Daleckii–Krein formula keeps the gradient exact) and ``'jitter'`` adds the smallest multiple
of I that makes it PSD; either way the repair is logged, with the most negative eigenvalue, and
counted in :attr:`DistanceGP.repairs`. After a clip, cross covariances to test points are projected
onto the kept eigenvectors (else only the noise is left to invert along the clipped directions and
predictions leave the data's range). :meth:`predict_joint` repairs the joint train ∪ test Gram as
one matrix instead, so the posterior is that of a GP with a PSD prior on every point it scores
(the search's default for candidate pools: issue 22); :meth:`predict` repairs only the training
block (and a test block on its own), the whole-space path's.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from nasstages.surrogates.optimize import minimize_box

log = logging.getLogger(__name__)

FORMS = ("exp", "squared")
PSD_REPAIRS = ("clip", "jitter")
HYPER_KEYS = ("outputscale", "lengthscale", "noise", "mean")
ANCHOR_JITTER = 1e-10  # δ of predict_anchored's prior A = B₊ + δI (B₊ may be singular after a clip)


@dataclass
class Posterior:
    mean: np.ndarray  # in the units of y
    var: np.ndarray  # marginal variances of the latent f (clipped at 0)
    covariance: np.ndarray | None = None  # joint, when asked for


@dataclass
class _Repair:
    """A base Gram matrix made PSD, with what its derivative needs."""

    matrix: np.ndarray
    repaired: bool = False
    smallest: float = 0.0
    eigenvalues: np.ndarray | None = None
    vectors: np.ndarray | None = None


class DistanceGP:
    """Exact GP regression where the caller provides the distance matrices."""

    def __init__(self, form: str = "exp", psd: str = "clip", train_iters: int = 50, noise_floor: float = 1e-4
                 ) -> None:
        if form not in FORMS:
            raise ValueError(f"kernel form must be one of {FORMS}, not {form!r}")
        if psd not in PSD_REPAIRS:
            raise ValueError(f"psd repair must be one of {PSD_REPAIRS}, not {psd!r}")
        self.form, self.psd, self.train_iters = form, psd, int(train_iters)
        self.noise_floor = float(noise_floor)
        self.repairs = 0  # repairs since the last fit (its own and its predictions')
        self.total_repairs = 0  # over every fit and prediction of this surrogate
        self.most_negative = 0.0
        self.joint_repairs = 0  # predictions whose joint train ∪ test prior had to be repaired
        self.clipped_variances = 0  # predictive variances < 0 (before clipping at 0), over all predictions
        self.anchored_shrinks = 0  # test points whose cross covariances predict_anchored shrank
        self._fitted = False

    # kernel ------------------------------------------------------------------------------
    def _base(self, distances: np.ndarray, lengthscale: float) -> np.ndarray:
        if self.form == "exp":
            return np.exp(distances * (-1.0 / lengthscale))
        return np.exp((distances / lengthscale) ** 2 * -0.5)

    def _base_dlog_lengthscale(self, base: np.ndarray, distances: np.ndarray, lengthscale: float) -> np.ndarray:
        """∂k/∂log ℓ of the unrepaired base kernel."""
        if self.form == "exp":
            return base * (distances / lengthscale)
        return base * (distances / lengthscale) ** 2

    def _repair(self, k: np.ndarray, count: bool = True) -> _Repair:
        """A square Gram matrix made PSD if it is not (counted and logged)."""
        symmetric = 0.5 * (k + k.T)
        try:
            np.linalg.cholesky(symmetric + 1e-10 * np.eye(len(k)))
            return _Repair(k)  # PSD to within 1e-10: a Cholesky is ~20x cheaper than the eigendecomposition
        except np.linalg.LinAlgError:
            pass
        eigenvalues, vectors = np.linalg.eigh(symmetric)
        smallest = float(eigenvalues[0])
        if smallest >= -1e-10:
            return _Repair(k)
        if count:
            self._count_repair(smallest)
        if self.psd == "clip":
            matrix = (vectors * np.clip(eigenvalues, 0.0, None)) @ vectors.T
        else:
            matrix = k + (-smallest) * np.eye(len(k))
        return _Repair(matrix, True, smallest, eigenvalues, vectors)

    def _count_repair(self, smallest: float) -> None:
        self.repairs += 1
        self.total_repairs += 1
        self.most_negative = min(self.most_negative, smallest)
        if self.total_repairs == 1:
            log.warning("GP kernel not PSD on the training set (eigenvalue %.3g): repairing by %s; later repairs are "
                        "counted in the search's JSON (gp_repairs)", smallest, self.psd)

    def _repaired_derivative(self, repair: _Repair, dk: np.ndarray, weights: np.ndarray) -> float:
        """Σ_ij weights_ij ∂B_ij for the repaired base B when the raw kernel moves by ``dk``."""
        if not repair.repaired:
            return float(np.sum(weights * dk))
        values, vectors = repair.eigenvalues, repair.vectors
        dk = 0.5 * (dk + dk.T)
        if self.psd == "jitter":  # B = k − λ_min I: ∂B = ∂k − (v_minᵀ ∂k v_min) I
            shift = float(vectors[:, 0] @ dk @ vectors[:, 0])
            return float(np.sum(weights * dk) - shift * np.trace(weights))
        # Daleckii–Krein: ∂(V f(Λ) Vᵀ) = V (F ∘ Vᵀ ∂k V) Vᵀ, F_ij = (f(λ_i) − f(λ_j)) / (λ_i − λ_j)
        clipped = np.clip(values, 0.0, None)
        gap = values[:, None] - values[None, :]
        slope = 0.5 * ((values[:, None] > 0).astype(float) + (values[None, :] > 0))
        close = np.abs(gap) < 1e-12
        F = np.where(close, slope, (clipped[:, None] - clipped[None, :]) / np.where(close, 1.0, gap))
        rotated_w = vectors.T @ (0.5 * (weights + weights.T)) @ vectors
        return float(np.sum(rotated_w * F * (vectors.T @ dk @ vectors)))

    # fit ---------------------------------------------------------------------------------
    def fit(self, train_distances: np.ndarray, y: np.ndarray, *, optimize: bool = True,
            hyper: dict[str, float] | None = None) -> "DistanceGP":
        """Fit on n points with pairwise distances (n×n) and targets y (n,).

        ``hyper`` (outputscale, lengthscale, noise, mean; in standardized units) fixes or
        initializes the hyperparameters; without it ℓ starts at the median distance, σ² at 1,
        τ at 0.1 and m at 0.
        """
        d = np.asarray(train_distances, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        n = len(y)
        self.y_mean = float(np.mean(y))
        self.y_std = float(np.std(y)) or 1.0
        self.z = (y - self.y_mean) / self.y_std
        self.train_distances = d
        self.repairs = 0
        scales = self._distance_scales(d, n)
        hyper = dict(hyper or {})
        start = {"outputscale": hyper.get("outputscale", 1.0),
                 "lengthscale": hyper.get("lengthscale", self._default_lengthscale(scales)),
                 "noise": max(hyper.get("noise", 0.1), self.noise_floor), "mean": hyper.get("mean", 0.0)}
        if optimize and n > 1:
            start = self._optimize(start, scales)
        self.hyper = start
        self._condition()
        return self

    @staticmethod
    def _positive_scales(d: np.ndarray, n: int) -> tuple[float, float, float]:
        """(min, median, max) of the positive off-diagonal distances (1e-3, 1, 1 when there are none)."""
        off = d[np.triu_indices(n, 1)] if n > 1 else np.array([1.0])
        positive = off[off > 0]
        if not len(positive):
            return 1e-3, 1.0, 1.0
        return float(positive.min()), float(np.median(positive)), float(positive.max())

    def _distance_scales(self, d: np.ndarray, n: int) -> np.ndarray:
        """(terms, 3): each distance term's (min, median, max) positive pairwise distance, which set
        the length-scales' start and bounds."""
        return np.array([self._positive_scales(d, n)])

    def _default_lengthscale(self, scales: np.ndarray):
        return float(scales[0, 1])

    def _lengthscale_gradients(self, raw: np.ndarray, d: np.ndarray, h: dict, repair: _Repair,
                               G: np.ndarray) -> list[float]:
        """∂(−log p)/∂log ℓ (one per length-scale) given ∂(−log p)/∂K = G."""
        dk = self._base_dlog_lengthscale(raw, d, h["lengthscale"])
        return [h["outputscale"] * self._repaired_derivative(repair, dk, G)]

    def _pack(self, hyper: dict[str, float]) -> np.ndarray:
        return np.array([math.log(hyper["outputscale"]), math.log(hyper["lengthscale"]),
                         math.log(hyper["noise"]), hyper["mean"]])

    @staticmethod
    def _unpack(theta: np.ndarray) -> dict[str, float]:
        return {"outputscale": math.exp(theta[0]), "lengthscale": math.exp(theta[1]),
                "noise": math.exp(theta[2]), "mean": float(theta[3])}

    def _negative_mll(self, theta: np.ndarray, gradient: bool = True) -> tuple[float, np.ndarray | None]:
        """−log p(z | θ) / n and its gradient in θ = (log σ², log ℓ, log τ, m) (R&W eqs. 5.8, 5.9);
        the value alone with ``gradient=False`` (a derivative-free optimizer's)."""
        h = self._unpack(theta)
        d, z, n = self.train_distances, self.z, len(self.z)
        raw = self._base(d, h["lengthscale"])
        repair = self._repair(raw, count=False)
        K = h["outputscale"] * repair.matrix + h["noise"] * np.eye(n)
        try:
            L = np.linalg.cholesky(0.5 * (K + K.T))
        except np.linalg.LinAlgError:
            return 1e10, np.zeros(len(theta))
        residual = z - h["mean"]
        L_inv = _triangular_inverse(L)
        K_inv = L_inv.T @ L_inv
        alpha = K_inv @ residual
        value = 0.5 * residual @ alpha + np.log(np.diag(L)).sum() + 0.5 * n * math.log(2 * math.pi)
        if not gradient:
            return value / n, None
        G = 0.5 * (K_inv - np.outer(alpha, alpha))  # ∂(−log p)/∂K
        grad = np.array([
            h["outputscale"] * float(np.sum(G * repair.matrix)),
            *self._lengthscale_gradients(raw, d, h, repair, G),
            h["noise"] * float(np.trace(G)),
            -float(alpha.sum()),
        ])
        return value / n, grad / n

    def _optimize(self, start: dict[str, float], scales: np.ndarray) -> dict[str, float]:
        """A local fit from ``start`` (the warm start), and a second one from the default
        initialization (σ² 1, ℓ the median distance, τ 0.1, m 0) where that point is better than
        the warm start: new observations that made the warm start poor cannot lock the fit into a
        worse basin (two evaluations per refit otherwise); the better optimum wins."""
        default = self._pack(self._default_hyper(scales))
        warm = self._pack(start)
        lower, upper = self._bounds(scales, warm, default)
        warm, default = np.clip(warm, lower, upper), np.clip(default, lower, upper)
        starts = [(warm, self._negative_mll(warm)[0])]
        if not np.array_equal(warm, default):
            at_default = self._negative_mll(default)[0]
            if at_default < starts[0][1]:
                starts.append((default, at_default))
        best, best_value = None, math.inf
        for theta0, initial in starts:
            theta, value = minimize_box(self._negative_mll, theta0, lower, upper, max_iter=self.train_iters)
            if initial < value:
                theta, value = theta0, initial
            if value < best_value:
                best, best_value = theta, value
        return self._unpack(best)

    def _default_hyper(self, scales: np.ndarray) -> dict:
        """The fit's cold start: σ² 1, ℓ from the distances, τ 0.1, m 0."""
        return {"outputscale": 1.0, "lengthscale": self._default_lengthscale(scales), "noise": 0.1, "mean": 0.0}

    def _bounds(self, scales: np.ndarray, warm: np.ndarray, default: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The box on θ: each log ℓ within 5 of its term's smallest and largest distance (widened to
        hold both starts), σ² and τ within fixed ranges, the mean within the observed targets."""
        lo = np.array([math.log(max(float(v), 1e-6)) - 5.0 for v in scales[:, 0]])
        hi = np.array([math.log(max(float(v), 1e-6)) + 5.0 for v in scales[:, 2]])
        ls = slice(1, 1 + len(scales))  # the log length-scales in θ
        # the constant mean stays within the observed (standardized) targets: left free, it can
        # drift far below them, and every candidate far from the data is then predicted there
        lower = np.array([-9.0, *np.minimum(np.minimum(lo, warm[ls]), default[ls]), math.log(self.noise_floor),
                          float(self.z.min())])
        upper = np.array([9.0, *np.maximum(np.maximum(hi, warm[ls]), default[ls]), math.log(10.0),
                          float(self.z.max())])
        return lower, upper

    def _condition(self) -> None:
        """Factor the training covariance at the current hyperparameters (counts a repair)."""
        h = self.hyper
        n = len(self.z)
        repair = self._repair(self._base(self.train_distances, h["lengthscale"]))
        K = h["outputscale"] * repair.matrix + h["noise"] * np.eye(n)
        # a clipped Gram matrix has lost the directions of its negative eigenvalues; cross
        # covariances keep them, and there only the noise τ is left to invert (K⁻¹ ~ 1/τ): project
        # them onto the kept eigenvectors, or a small τ sends predictions far outside the data
        self.projector = None
        if repair.repaired and self.psd == "clip":
            kept = repair.vectors[:, repair.eigenvalues > 0]
            self.projector = kept @ kept.T
        self.chol = np.linalg.cholesky(0.5 * (K + K.T))
        self.chol_inv = _triangular_inverse(self.chol)
        self.alpha = self.chol_inv.T @ (self.chol_inv @ (self.z - h["mean"]))
        self.n = n
        self._prior_base = repair.matrix  # the PSD base Gram the posterior conditions on
        self._anchor: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # built on first use
        self._fitted = True

    # queries -----------------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, float]:
        assert self._fitted, "fit first"
        return dict(self.hyper)

    def marginal_log_likelihood(self) -> float:
        """Exact MLL (per point, standardized targets) at the current hyperparameters."""
        assert self._fitted, "fit first"
        return -self._negative_mll(self._pack(self.hyper))[0]

    def predict(self, cross_distances: np.ndarray, test_distances: np.ndarray | None = None) -> Posterior:
        """Posterior of f at m test points: cross (m×n) distances to the training points, and the
        test points' own (m×m) distances when the joint covariance is wanted."""
        assert self._fitted, "fit first"
        h = self.hyper
        cross = h["outputscale"] * self._base(np.asarray(cross_distances, dtype=np.float64), h["lengthscale"])
        if self.projector is not None:
            cross = cross @ self.projector
        mean = (h["mean"] + cross @ self.alpha) * self.y_std + self.y_mean
        V = self.chol_inv @ cross.T  # L⁻¹ K_t*
        if test_distances is None:
            var = h["outputscale"] - np.einsum("ij,ij->j", V, V)
            return Posterior(mean=mean, var=self._clip_variances(var) * self.y_std**2)
        test = self._repair(self._base(np.asarray(test_distances, dtype=np.float64), h["lengthscale"])).matrix
        cov = (h["outputscale"] * test - V.T @ V) * self.y_std**2
        return Posterior(mean=mean, var=self._clip_variances(np.diag(cov)), covariance=cov)

    def predict_joint(self, cross_distances: np.ndarray, test_distances: np.ndarray,
                      covariance: bool = False) -> Posterior:
        """The posterior of a GP whose prior is PSD on the joint training ∪ test set.

        The (n+m)² base Gram of training and test points together is repaired as one matrix
        (clip or jitter, as the training block is in the fit), and the posterior is the exact GP
        posterior under that prior (R&W eqs. 2.25–2.26): its covariance is a Schur complement of a
        PSD matrix plus noise, so it is PSD and its variances are ≥ 0 before any clipping. The
        hyperparameters are the fit's (on the training block alone)."""
        assert self._fitted, "fit first"
        h = self.hyper
        n = self.n
        cross = self._base(np.asarray(cross_distances, dtype=np.float64), h["lengthscale"])
        m = len(cross)
        joint = np.empty((n + m, n + m))
        joint[:n, :n] = self._base(self.train_distances, h["lengthscale"])
        joint[n:, :n] = cross
        joint[:n, n:] = cross.T
        joint[n:, n:] = self._base(np.asarray(test_distances, dtype=np.float64), h["lengthscale"])
        repair = self._repair(joint, count=False)
        if repair.repaired:
            self.joint_repairs += 1
            self.most_negative = min(self.most_negative, repair.smallest)
        prior = h["outputscale"] * 0.5 * (repair.matrix + repair.matrix.T)
        K = prior[:n, :n] + h["noise"] * np.eye(n)
        L = np.linalg.cholesky(K)
        V = np.linalg.solve(L, prior[:n, n:])  # L⁻¹ K(train, test)
        w = np.linalg.solve(L, self.z - h["mean"])
        mean = (h["mean"] + V.T @ w) * self.y_std + self.y_mean
        if not covariance:
            var = np.diag(prior)[n:] - np.einsum("ij,ij->j", V, V)
            return Posterior(mean=mean, var=self._clip_variances(var) * self.y_std**2)
        cov = (prior[n:, n:] - V.T @ V) * self.y_std**2
        return Posterior(mean=mean, var=self._clip_variances(np.diag(cov)), covariance=cov)

    def predict_anchored(self, cross_distances: np.ndarray, covariance: bool = False) -> Posterior:
        """The posterior of a GP whose prior is PSD on training ∪ test by construction, from the
        test points' distances to the training points alone (no test × test distances).

        The prior is the training block's PSD Gram A = B₊ + δI (B₊ the fit's repaired base Gram,
        δ = 1e-10) extended to each test point x by its cross covariances k_x, as in the Nyström /
        FITC construction (Williams & Seeger 2001; Snelson & Ghahramani 2006, eq. 6): the test
        block is kᵀA⁻¹k' off the diagonal and 1 on it. That matrix is PSD iff every
        q_x = k_xᵀ A⁻¹ k_x ≤ 1; a distance kernel that is not PSD gives q_x > 1 (the point is
        "more than fully explained" by the training points), and then k_x is shrunk by 1/√q_x,
        the smallest change that makes x's row feasible. Each shrunk cross covariance is counted
        (``gp_anchored_shrinks``). On a PSD kernel (q_x ≤ 1) the marginals equal the exact GP's."""
        assert self._fitted, "fit first"
        h = self.hyper
        base = self._base(np.asarray(cross_distances, dtype=np.float64), h["lengthscale"])
        if self.projector is not None:  # a clipped Gram: cross covariances on its kept eigenvectors
            base = base @ self.projector
        prior_inv, posterior_inv, weights = self._anchored_factors()
        U = prior_inv @ base.T  # A^{-1/2} k_x per column: q_x = |U_x|²
        q = np.einsum("ij,ij->j", U, U)
        shrink = np.ones(len(q))
        over = q > 1.0
        shrink[over] = 1.0 / np.sqrt(q[over])
        self.anchored_shrinks += int(np.count_nonzero(q > 1.0 + 1e-9))  # not rounding at q = 1
        U *= shrink
        W = posterior_inv @ (h["outputscale"] * base.T * shrink)  # (σ²A + τI)^{-1/2} σ² k̂_x
        mean = (h["mean"] + W.T @ weights) * self.y_std + self.y_mean
        if not covariance:
            var = h["outputscale"] - np.einsum("ij,ij->j", W, W)
            return Posterior(mean=mean, var=self._clip_variances(var) * self.y_std**2)
        explained = U.T @ U
        prior = h["outputscale"] * (explained + np.diag(1.0 - np.diag(explained)))
        cov = (prior - W.T @ W) * self.y_std**2
        return Posterior(mean=mean, var=self._clip_variances(np.diag(cov)), covariance=cov)

    def _anchored_factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(A^{-1/2}, (σ²A + τI)^{-1/2}, (σ²A + τI)^{-1/2}(z − m)) as lower-triangular inverses, once
        per conditioning; A = B₊ + δI so that the anchored prior's Schur complements are exact."""
        if self._anchor is None:
            h = self.hyper
            base = 0.5 * (self._prior_base + self._prior_base.T)
            for jitter in (ANCHOR_JITTER, 1e-8, 1e-6):  # a Gram left unrepaired may sit at -1e-10
                A = base + jitter * np.eye(self.n)
                try:
                    prior_inv = _triangular_inverse(np.linalg.cholesky(A))
                    break
                except np.linalg.LinAlgError:
                    continue
            else:
                raise np.linalg.LinAlgError("anchored prior: the training Gram is not PSD even with 1e-6 jitter")
            posterior_inv = _triangular_inverse(np.linalg.cholesky(h["outputscale"] * A + h["noise"] * np.eye(self.n)))
            self._anchor = (prior_inv, posterior_inv, posterior_inv @ (self.z - h["mean"]))
        return self._anchor

    def _clip_variances(self, var: np.ndarray) -> np.ndarray:
        """Variances clipped at 0, each clipped one counted (rounding below −1e-12 relative to σ²)."""
        self.clipped_variances += int(np.count_nonzero(var < -1e-12 * self.hyper["outputscale"]))
        return np.clip(var, 0.0, None)

    def summary(self) -> dict[str, float]:
        """Repairs so far, for the search's provenance record."""
        return {"gp_repairs": self.total_repairs, "gp_most_negative_eigenvalue": self.most_negative,
                "gp_psd_repair": self.psd, "gp_joint_repairs": self.joint_repairs,
                "gp_clipped_variances": self.clipped_variances, "gp_anchored_shrinks": self.anchored_shrinks}


class TermwiseDistanceGP(DistanceGP):
    """A GP on a distance that is a sum of terms, with one length-scale per term:
    k(a, b) = σ² exp(−Σ_t d_t(a, b)/ℓ_t) (``form='exp'``) or σ² exp(−½ Σ_t (d_t(a, b)/ℓ_t)²).

    TW-NAS's kernel (Nguyen et al., ICML 2021, §3: d = λ_o W_op + λ_in W_in + λ_out W_out with the
    weights fitted by marginal likelihood; the reference code, ``bo/pp/pp_gp_my_distmat.py``
    ``gp_post`` / ``log_llk_v3``, writes it as exp(−W_op/ℓ₁ − W_in/ℓ₂ − W_out/ℓ₃)). Distances are
    stacks (terms × rows × cols); θ = (log σ², log ℓ_1..T, log τ, m), each ℓ_t starting at T times
    its term's median distance (so a typical pair's exponent starts near 1) and bounded like the
    single length-scale, by its term's smallest and largest distances. With every ℓ_t equal it is
    :class:`DistanceGP` on the summed distance (tested)."""

    def __init__(self, terms: int, form: str = "exp", psd: str = "clip", train_iters: int = 50,
                 noise_floor: float = 1e-4) -> None:
        super().__init__(form=form, psd=psd, train_iters=train_iters, noise_floor=noise_floor)
        if terms < 1:
            raise ValueError(f"a termwise GP needs at least one distance term, not {terms!r}")
        self.terms = int(terms)

    def _base(self, distances: np.ndarray, lengthscale) -> np.ndarray:
        d = np.asarray(distances, dtype=np.float64)
        inverse = 1.0 / np.asarray(lengthscale, dtype=np.float64)
        if self.form == "exp":
            return np.exp(-np.tensordot(inverse, d, axes=1))
        return np.exp(-0.5 * np.tensordot(inverse ** 2, d ** 2, axes=1))

    def _lengthscale_gradients(self, raw: np.ndarray, d: np.ndarray, h: dict, repair: _Repair,
                               G: np.ndarray) -> list[float]:
        power = 1 if self.form == "exp" else 2
        return [h["outputscale"] * self._repaired_derivative(repair, raw * (d[t] / ell) ** power, G)
                for t, ell in enumerate(np.asarray(h["lengthscale"], dtype=np.float64))]

    def _distance_scales(self, d: np.ndarray, n: int) -> np.ndarray:
        if d.ndim != 3 or len(d) != self.terms:
            raise ValueError(f"a {self.terms}-term GP takes distance stacks ({self.terms} × n × n), not {d.shape}")
        return np.array([self._positive_scales(term, n) for term in d])

    def _default_lengthscale(self, scales: np.ndarray) -> tuple[float, ...]:
        return tuple(float(self.terms * median) for median in scales[:, 1])

    def _pack(self, hyper: dict) -> np.ndarray:
        return np.array([math.log(hyper["outputscale"]), *[math.log(v) for v in hyper["lengthscale"]],
                         math.log(hyper["noise"]), hyper["mean"]])

    def _unpack(self, theta: np.ndarray) -> dict:  # type: ignore[override]
        t = self.terms
        return {"outputscale": math.exp(theta[0]), "lengthscale": tuple(math.exp(v) for v in theta[1:1 + t]),
                "noise": math.exp(theta[1 + t]), "mean": float(theta[2 + t])}


def _triangular_inverse(L: np.ndarray) -> np.ndarray:
    """L⁻¹ of a lower-triangular factor (n ≤ a few hundred: microseconds to a millisecond; numpy's
    solve, so a BO job needs no scipy import)."""
    return np.linalg.solve(L, np.eye(len(L)))


def _with_rows(array: np.ndarray, rows: int, keep: int) -> np.ndarray:
    """``array`` with room for ``rows`` rows (doubling when it grows), its first ``keep`` rows kept."""
    if array.shape[0] >= rows:
        return array
    grown = np.zeros((max(rows, 2 * array.shape[0], 16), array.shape[1]))
    grown[:keep] = array[:keep]
    return grown


class PoolPosterior:
    """A DistanceGP's marginal posterior over a fixed pool of N architectures (a whole tabular
    space), kept current as observations are appended.

    With V = L⁻¹ K(train, pool): mean = m + Vᵀ L⁻¹(z − m), var = σ² − Σ_rows V². While the
    hyperparameters stay fixed and no Gram repair is needed, the Cholesky factor of the grown
    training set extends the old one, so a new observation adds one row of V in O(nN)
    (V_new = L₂₂⁻¹ (K_new − L₂₁ V_old)) instead of the O(n²N) product; a refit, a repair or
    another training order recomputes V."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._V = np.zeros((0, size))
        self._K = np.zeros((0, size))  # σ² k(train, pool) rows, kept while σ² and ℓ stay fixed
        self._n = 0
        self._k_rows = 0
        self._colsum = np.zeros(size)
        self._ids = np.zeros(0, dtype=np.int64)
        self._key: tuple | None = None
        self._kernel_key: tuple | None = None
        self.full_updates = 0  # O(n²N) recomputations (refits, repairs), for tests and the record

    def _kernel_rows(self, gp: DistanceGP, train_ids: np.ndarray, rows) -> np.ndarray:
        """σ² k(train, pool), computing only rows not already held for these σ², ℓ."""
        h = gp.hyperparameters()
        key = (gp.form, h["outputscale"], h["lengthscale"])
        held = self._k_rows if key == self._kernel_key and np.array_equal(train_ids[:self._k_rows],
                                                                            self._ids[:self._k_rows]) else 0
        self._K = _with_rows(self._K, len(train_ids), keep=held)
        if held < len(train_ids):
            self._K[held:len(train_ids)] = h["outputscale"] * gp._base(rows(train_ids[held:]), h["lengthscale"])
        self._kernel_key, self._k_rows = key, len(train_ids)
        return self._K[: len(train_ids)]

    def posterior(self, gp: DistanceGP, train_ids: np.ndarray, rows) -> Posterior:
        """Posterior at every pool point; ``rows(ids)`` gives those training points' distance rows
        (len(ids) × N) and is asked only for points whose kernel row is not held."""
        h = gp.hyperparameters()
        key = (gp.form, h["outputscale"], h["lengthscale"], h["noise"])
        train_ids = np.asarray(train_ids, dtype=np.int64)
        old = self._n
        extends = (key == self._key and gp.repairs == 0 and old <= len(train_ids)
                   and np.array_equal(train_ids[:old], self._ids))
        kernel = self._kernel_rows(gp, train_ids, rows)
        if not extends:
            old = 0
            self._colsum = np.zeros(self.size)
            self.full_updates += 1
        if old < len(train_ids):
            L = gp.chol
            if gp.projector is not None:  # a clipped Gram (see DistanceGP._condition): never incremental
                # L⁻¹ (P K) as (L⁻¹ P) K: one n × n × N product instead of two
                fresh = (gp.chol_inv @ gp.projector) @ kernel
            else:
                rhs = kernel[old:] - L[old:, :old] @ self._V[:old] if old else kernel
                fresh = gp.chol_inv[old:, old:] @ rhs
            self._V = _with_rows(self._V, len(train_ids), keep=old)
            self._V[old:len(train_ids)] = fresh
            self._colsum += np.einsum("ij,ij->j", fresh, fresh)
        # a repaired Gram matrix is not the leading block of the next one: recompute next time
        self._key = key if gp.repairs == 0 else None
        self._n, self._ids = len(train_ids), train_ids.copy()
        V = self._V[: self._n]
        w = gp.chol_inv @ (gp.z - h["mean"])
        mean = (h["mean"] + V.T @ w) * gp.y_std + gp.y_mean
        var = gp._clip_variances(h["outputscale"] - self._colsum) * gp.y_std**2
        return Posterior(mean=mean, var=var)
