"""The previous GP surrogate on a distance (GPyTorch, Adam on the marginal likelihood): kept as the test
oracle and the speed reference of :mod:`nasstages.surrogates.gp`, which replaced it on the search's hot path.

k(a, b) = σ² exp(−d(a, b) / ℓ) (``form='exp'``) or σ² exp(−d(a, b)² / (2ℓ²)) (``form='squared'``),
with a Gaussian likelihood. Targets are standardized; σ², ℓ and the noise are fitted by
maximizing the exact marginal likelihood (Adam). The inputs handed to GPyTorch are row indices
into a distance matrix that the caller supplies, so any metric (precomputed or on the fly) works.

exp(−d/ℓ) is positive definite only when d is negative definite (tree-Wasserstein, Hamming);
for other distances (HOTNN, OTMANN) the training Gram matrix may be indefinite. ``psd='clip'``
then clips its negative eigenvalues to zero (a projection onto the PSD cone) and ``'jitter'``
adds the smallest multiple of I that makes it PSD; either way the repair is logged, with the
most negative eigenvalue, and counted in :attr:`GPyTorchDistanceGP.repairs`.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import gpytorch
import numpy as np
import torch

log = logging.getLogger(__name__)

FORMS = ("exp", "squared")
PSD_REPAIRS = ("clip", "jitter")


class DistanceKernel(gpytorch.kernels.Kernel):
    """exp(−d/ℓ) or exp(−d²/2ℓ²) between points given as indices into ``self.distances``."""

    has_lengthscale = True

    def __init__(self, form: str = "exp", psd: str = "clip", announce: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.form = form
        self.psd = psd
        self.announce = announce  # log the first repair at WARNING (later ones at DEBUG)
        self.distances = torch.zeros(0, 0, dtype=torch.float64)
        self.repairs = 0
        self.most_negative = 0.0

    def forward(self, x1, x2, diag=False, **params):
        i = x1[..., 0].long()
        j = x2[..., 0].long()
        if diag:
            return torch.ones(i.shape, dtype=x1.dtype, device=x1.device)
        d = self.distances[i][:, j]
        ell = self.lengthscale[..., 0, 0]
        k = torch.exp(-d / ell) if self.form == "exp" else torch.exp(-0.5 * (d / ell) ** 2)
        if i.shape == j.shape and torch.equal(i, j):
            k = self._repair(k)
        return k

    def _repair(self, k: torch.Tensor) -> torch.Tensor:
        """Make a square Gram matrix PSD if it is not (logged)."""
        symmetric = 0.5 * (k + k.T)
        shifted = symmetric.detach() + 1e-10 * torch.eye(k.shape[0], dtype=k.dtype)
        if int(torch.linalg.cholesky_ex(shifted).info) == 0:
            return k  # PSD to within 1e-10: a Cholesky is ~20x cheaper than the eigendecomposition
        eigenvalues, vectors = torch.linalg.eigh(symmetric)
        smallest = float(eigenvalues[0].detach())
        if smallest >= -1e-10:
            return k
        self.repairs += 1
        self.most_negative = min(self.most_negative, smallest)
        if self.repairs == 1:
            log.log(logging.WARNING if self.announce else logging.DEBUG,
                    "GP kernel not PSD on the training set (eigenvalue %.3g): repairing by %s; later repairs are "
                    "counted in the search's JSON (gp_repairs)", smallest, self.psd)
        if self.psd == "clip":
            return (vectors * eigenvalues.clamp(min=0.0)) @ vectors.T
        return k + (-smallest) * torch.eye(k.shape[0], dtype=k.dtype)


class _ExactGP(gpytorch.models.ExactGP):
    def __init__(self, x, y, likelihood, kernel):
        super().__init__(x, y, likelihood)
        self.mean_module = gpytorch.means.ConstantMean()
        self.covar_module = gpytorch.kernels.ScaleKernel(kernel)

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


@dataclass
class Posterior:
    mean: np.ndarray  # in the units of y
    var: np.ndarray  # marginal variances
    covariance: np.ndarray | None = None  # joint, when asked for


class GPyTorchDistanceGP:
    """Exact GP regression where the caller provides the distance matrices."""

    def __init__(self, form: str = "exp", psd: str = "clip", train_iters: int = 50, lr: float = 0.1,
                 noise_floor: float = 1e-4) -> None:
        if form not in FORMS:
            raise ValueError(f"kernel form must be one of {FORMS}, not {form!r}")
        if psd not in PSD_REPAIRS:
            raise ValueError(f"psd repair must be one of {PSD_REPAIRS}, not {psd!r}")
        self.form, self.psd, self.train_iters, self.lr = form, psd, train_iters, lr
        self.noise_floor = noise_floor
        self.model: _ExactGP | None = None
        self.total_repairs = 0  # over every fit and prediction of this surrogate
        self.most_negative = 0.0

    @property
    def repairs(self) -> int:
        """Repairs in the current model (fit and predictions since)."""
        return 0 if self.model is None else self.model.covar_module.base_kernel.repairs

    def fit(self, train_distances: np.ndarray, y: np.ndarray, *, optimize: bool = True,
            hyper: dict[str, float] | None = None) -> "GPyTorchDistanceGP":
        """Fit on n points with pairwise distances (n×n) and targets y (n,).

        ``hyper`` (outputscale, lengthscale, noise; in standardized units) fixes or initializes
        the hyperparameters; without it ℓ starts at the median distance.
        """
        n = len(y)
        self.y_mean = float(np.mean(y))
        self.y_std = float(np.std(y)) or 1.0
        x = torch.arange(n, dtype=torch.float64).unsqueeze(-1)
        target = torch.as_tensor((np.asarray(y) - self.y_mean) / self.y_std, dtype=torch.float64)
        likelihood = gpytorch.likelihoods.GaussianLikelihood(
            noise_constraint=gpytorch.constraints.GreaterThan(self.noise_floor)).double()
        self._collect()
        kernel = DistanceKernel(form=self.form, psd=self.psd, announce=self.total_repairs == 0).double()
        kernel.distances = torch.as_tensor(train_distances, dtype=torch.float64)
        model = _ExactGP(x, target, likelihood, kernel).double()
        off = train_distances[np.triu_indices(n, 1)] if n > 1 else np.array([1.0])
        hyper = hyper or {}
        kernel.lengthscale = hyper.get("lengthscale", float(np.median(off[off > 0])) if np.any(off > 0) else 1.0)
        model.covar_module.outputscale = hyper.get("outputscale", 1.0)
        likelihood.noise = hyper.get("noise", 0.1)
        if optimize and n > 1:
            model.train()
            likelihood.train()
            optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
            mll = gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, model)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", gpytorch.utils.warnings.NumericalWarning)
                for _ in range(self.train_iters):
                    optimizer.zero_grad()
                    loss = -mll(model(x), target)
                    loss.backward()
                    optimizer.step()
            for warning in caught:
                log.warning("GP fit: %s", warning.message)
        model.eval()
        likelihood.eval()
        self.model, self.likelihood, self.n = model, likelihood, n
        return self

    def _collect(self) -> None:
        """Fold the current model's repair count into the totals (before it is replaced)."""
        if self.model is not None:
            kernel = self.model.covar_module.base_kernel
            self.total_repairs += kernel.repairs
            self.most_negative = min(self.most_negative, kernel.most_negative)
            kernel.repairs = 0

    def summary(self) -> dict[str, float]:
        """Repairs so far, for the search's provenance record."""
        self._collect()
        return {"gp_repairs": self.total_repairs, "gp_most_negative_eigenvalue": self.most_negative,
                "gp_psd_repair": self.psd}

    def hyperparameters(self) -> dict[str, float]:
        assert self.model is not None
        with torch.no_grad():
            return {"outputscale": self.model.covar_module.outputscale.item(),
                    "lengthscale": self.model.covar_module.base_kernel.lengthscale.item(),
                    "noise": self.likelihood.noise.item()}

    def marginal_log_likelihood(self) -> float:
        """Exact MLL (per point, standardized targets) at the current hyperparameters."""
        model = self.model
        model.train()
        self.likelihood.train()
        with torch.no_grad():
            mll = gpytorch.mlls.ExactMarginalLogLikelihood(self.likelihood, model)
            value = float(mll(model(model.train_inputs[0]), model.train_targets))
        model.eval()
        self.likelihood.eval()
        return value

    def predict_marginals(self, cross_distances: np.ndarray, chunk: int = 512) -> Posterior:
        """Marginal posterior (mean, var) at m test points, ``chunk`` points per kernel evaluation:
        the same values as :meth:`predict` without joint covariance, at O(chunk²) memory instead of
        O(m²) (thousands of candidates: a whole tabular space)."""
        parts = [self.predict(cross_distances[start:start + chunk]) for start in range(0, len(cross_distances), chunk)]
        if len(parts) == 1:
            return parts[0]
        return Posterior(mean=np.concatenate([p.mean for p in parts]), var=np.concatenate([p.var for p in parts]))

    def predict(self, cross_distances: np.ndarray, test_distances: np.ndarray | None = None) -> Posterior:
        """Posterior of f at m test points: cross (m×n) distances to the training points, and the
        test points' own (m×m) distances when the joint covariance is wanted."""
        assert self.model is not None, "fit first"
        m = cross_distances.shape[0]
        n = self.n
        kernel = self.model.covar_module.base_kernel
        train = kernel.distances[:n, :n]
        full = torch.zeros(n + m, n + m, dtype=torch.float64)
        full[:n, :n] = train
        full[n:, :n] = torch.as_tensor(cross_distances, dtype=torch.float64)
        full[:n, n:] = full[n:, :n].T
        if test_distances is not None:
            full[n:, n:] = torch.as_tensor(test_distances, dtype=torch.float64)
        kernel.distances = full
        x = torch.arange(n, n + m, dtype=torch.float64).unsqueeze(-1)
        try:
            with torch.no_grad(), gpytorch.settings.fast_pred_var(False), warnings.catch_warnings():
                # tiny negative predictive variances (rounding) are clipped to 0 below
                warnings.simplefilter("ignore", gpytorch.utils.warnings.NumericalWarning)
                posterior = self.model(x)
                mean = posterior.mean.numpy() * self.y_std + self.y_mean
                if test_distances is not None:
                    cov = posterior.covariance_matrix.numpy() * self.y_std**2
                    var = np.clip(np.diag(cov), 0.0, None)
                else:
                    cov = None
                    var = np.clip(posterior.variance.numpy(), 0.0, None) * self.y_std**2
        finally:
            kernel.distances = train
        return Posterior(mean=mean, var=var, covariance=cov)
