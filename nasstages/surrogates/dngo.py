"""DNGO (Snoek et al., ICML 2015): a small network's last hidden layer as basis functions for
Bayesian linear regression, as arch2vec-BO uses on the pretrained embeddings.

With features Φ (N×D, plus a bias column), prior w ~ N(0, α⁻¹I) and noise precision β:
    A = βΦᵀΦ + αI,  m = βA⁻¹Φᵀy,  predictive N(φᵀm, φᵀA⁻¹φ + 1/β)          (Bishop Eq. 3.53-3.59)
with (α, β) maximizing the log marginal likelihood (Bishop Eq. 3.86).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import minimize
from torch import nn


def blr_log_evidence(log_alpha: float, log_beta: float, phi: np.ndarray, y: np.ndarray) -> float:
    """Bishop Eq. 3.86: ln p(y | α, β) for Bayesian linear regression on features ``phi``."""
    alpha, beta = math.exp(log_alpha), math.exp(log_beta)
    n, d = phi.shape
    a = beta * phi.T @ phi + alpha * np.eye(d)
    chol = np.linalg.cholesky(a)
    m = beta * np.linalg.solve(a, phi.T @ y)
    residual = y - phi @ m
    log_det = 2.0 * np.sum(np.log(np.diag(chol)))
    return float(0.5 * d * log_alpha + 0.5 * n * log_beta - 0.5 * beta * residual @ residual
                 - 0.5 * alpha * m @ m - 0.5 * log_det - 0.5 * n * math.log(2 * math.pi))


class DNGO:
    """fit(X, y) trains a tanh MLP (``hidden`` units × ``layers``) on standardized y, then BLR on
    its last hidden layer; predict(X) -> (mean, std) in the units of y."""

    def __init__(self, hidden: int = 50, layers: int = 3, epochs: int = 500, lr: float = 0.01, seed: int = 0,
                 batch_size: int | None = None, normalize_output: bool = True) -> None:
        self.hidden, self.layers, self.epochs, self.lr, self.seed = hidden, layers, epochs, lr, seed
        # pybnn's DNGO (arch2vec's reference): mini-batches of 10, normalize_output as its caller sets it
        self.batch_size, self.normalize_output = batch_size, normalize_output
        self.net: nn.Sequential | None = None

    def _basis(self, x: np.ndarray) -> np.ndarray:
        assert self.net is not None
        with torch.no_grad():
            phi = self.net[:-1](torch.as_tensor((x - self.x_mean) / self.x_std, dtype=torch.float32)).numpy()
        return np.concatenate([phi, np.ones((len(phi), 1), dtype=phi.dtype)], axis=1).astype(np.float64)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "DNGO":
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self.x_mean, self.x_std = x.mean(axis=0), x.std(axis=0) + 1e-8
        self.y_mean, self.y_std = (float(y.mean()), float(y.std()) or 1.0) if self.normalize_output else (0.0, 1.0)
        target = (y - self.y_mean) / self.y_std
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            blocks: list[nn.Module] = []
            for k in range(self.layers):
                blocks += [nn.Linear(x.shape[1] if k == 0 else self.hidden, self.hidden), nn.Tanh()]
            self.net = nn.Sequential(*blocks, nn.Linear(self.hidden, 1))
        inputs = torch.as_tensor((x - self.x_mean) / self.x_std, dtype=torch.float32)
        labels = torch.as_tensor(target, dtype=torch.float32)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        shuffle = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epochs):  # full batch unless batch_size: BO data sets are small
            if self.batch_size is None or self.batch_size >= len(y):
                batches = [slice(None)]
            else:
                order = torch.randperm(len(y), generator=shuffle)
                batches = [order[k:k + self.batch_size] for k in range(0, len(y), self.batch_size)]
            for rows in batches:
                optimizer.zero_grad()
                loss = torch.mean((self.net(inputs[rows]).squeeze(-1) - labels[rows]) ** 2)
                loss.backward()
                optimizer.step()
        phi = self._basis(x)
        result = minimize(lambda v: -blr_log_evidence(v[0], v[1], phi, target), x0=np.array([0.0, 2.0]),
                          method="L-BFGS-B", bounds=[(-10.0, 10.0), (-5.0, 12.0)])
        self.alpha, self.beta = float(np.exp(result.x[0])), float(np.exp(result.x[1]))
        a = self.beta * phi.T @ phi + self.alpha * np.eye(phi.shape[1])
        self.a_inv = np.linalg.inv(a)
        self.m = self.beta * self.a_inv @ phi.T @ target
        return self

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        phi = self._basis(np.asarray(x, dtype=np.float64))
        mean = phi @ self.m
        var = np.einsum("nd,de,ne->n", phi, self.a_inv, phi) + 1.0 / self.beta
        return mean * self.y_std + self.y_mean, np.sqrt(np.clip(var, 0.0, None)) * self.y_std
