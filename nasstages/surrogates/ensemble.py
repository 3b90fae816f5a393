"""An ensemble of small MLPs (BANANAS's predictor): mean and spread of the members' predictions.

The members are trained together as one batched network (weights stacked along a member axis,
``torch.baddbmm``): their parameters never interact, so this is exactly independent training
with independent initializations, at one optimizer step per epoch for the whole ensemble.
"""

from __future__ import annotations

import math

import numpy as np
import torch


class MLPEnsemble:
    """``members`` ReLU networks (``layers`` hidden layers of ``hidden`` units) trained with Adam;
    the members' std is the uncertainty.

    ``loss`` (mse | mae), ``batch_size`` (None: full batch; else shuffled mini-batches, each member
    its own order), ``standardize`` (targets to zero mean, unit variance, or raw) and ``init``
    (torch: ``nn.Linear``'s default; glorot: Keras ``Dense``'s glorot-uniform weights and zero
    biases, as BANANAS's reference code builds them)."""

    def __init__(self, members: int = 5, hidden: int = 32, layers: int = 3, epochs: int = 200, lr: float = 0.01,
                 seed: int = 0, loss: str = "mse", batch_size: int | None = None, standardize: bool = True,
                 init: str = "torch") -> None:
        if loss not in ("mse", "mae") or init not in ("torch", "glorot"):
            raise ValueError(f"ensemble loss must be mse or mae and init torch or glorot, not {loss!r} / {init!r}")
        self.members, self.hidden, self.layers, self.epochs, self.lr = members, hidden, layers, epochs, lr
        self.seed, self.loss, self.batch_size = seed, loss, batch_size
        self.standardize, self.init = standardize, init
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []

    def _init(self, d: int, generator: torch.Generator) -> None:
        sizes = [d] + [self.hidden] * self.layers + [1]
        self.weights, self.biases = [], []
        for a, b in zip(sizes[:-1], sizes[1:]):
            if self.init == "glorot":
                bound = math.sqrt(6.0 / (a + b))
                w = (torch.rand(self.members, a, b, generator=generator) * 2 - 1) * bound
                bias = torch.zeros(self.members, 1, b)
            else:
                bound = 1.0 / math.sqrt(a)  # torch.nn.Linear's default initialization
                w = (torch.rand(self.members, a, b, generator=generator) * 2 - 1) * bound
                bias = (torch.rand(self.members, 1, b, generator=generator) * 2 - 1) * bound
            self.weights.append(w.requires_grad_())
            self.biases.append(bias.requires_grad_())

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """(members, N) predictions; ``x`` is (N, d) for all members or (members, N, d)."""
        h = x.unsqueeze(0).expand(self.members, -1, -1) if x.dim() == 2 else x
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if k < len(self.weights) - 1:
                h = torch.relu(h)
        return h.squeeze(-1)

    def _loss(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # sum over members of each member's mean error: independent problems
        error = prediction - target
        return (error.abs() if self.loss == "mae" else error**2).mean(dim=1).sum()

    def fit(self, X: np.ndarray, y: np.ndarray) -> "MLPEnsemble":
        y = np.asarray(y, dtype=np.float64)
        self.y_mean, self.y_std = (float(np.mean(y)), float(np.std(y)) or 1.0) if self.standardize else (0.0, 1.0)
        x = torch.as_tensor(X, dtype=torch.float32)
        target = torch.as_tensor((y - self.y_mean) / self.y_std, dtype=torch.float32)
        generator = torch.Generator().manual_seed(self.seed)
        self._init(X.shape[1], generator)
        optimizer = torch.optim.Adam(self.weights + self.biases, lr=self.lr)
        n = len(y)
        for _ in range(self.epochs):
            if self.batch_size is None or self.batch_size >= n:
                batches = [None]
            else:
                order = torch.stack([torch.randperm(n, generator=generator) for _ in range(self.members)])
                batches = [order[:, k:k + self.batch_size] for k in range(0, n, self.batch_size)]
            for rows in batches:
                optimizer.zero_grad()
                if rows is None:
                    loss = self._loss(self._forward(x), target)
                else:
                    loss = self._loss(self._forward(x[rows]), target[rows])
                loss.backward()
                optimizer.step()
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) over the members, in the units of y."""
        with torch.no_grad():
            preds = self._forward(torch.as_tensor(X, dtype=torch.float32)).numpy() * self.y_std + self.y_mean
        return preds.mean(axis=0), preds.std(axis=0)
