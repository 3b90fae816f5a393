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
    """``members`` ReLU networks (``layers`` hidden layers of ``hidden`` units), Adam on the
    squared error of standardized targets; the members' std is the uncertainty."""

    def __init__(self, members: int = 5, hidden: int = 32, layers: int = 3, epochs: int = 200, lr: float = 0.01,
                 seed: int = 0) -> None:
        self.members, self.hidden, self.layers, self.epochs, self.lr = members, hidden, layers, epochs, lr
        self.seed = seed
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []

    def _init(self, d: int) -> None:
        generator = torch.Generator().manual_seed(self.seed)
        sizes = [d] + [self.hidden] * self.layers + [1]
        self.weights, self.biases = [], []
        for a, b in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(a)  # torch.nn.Linear's default initialization
            w = (torch.rand(self.members, a, b, generator=generator) * 2 - 1) * bound
            bias = (torch.rand(self.members, 1, b, generator=generator) * 2 - 1) * bound
            self.weights.append(w.requires_grad_())
            self.biases.append(bias.requires_grad_())

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(0).expand(self.members, -1, -1)
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if k < len(self.weights) - 1:
                h = torch.relu(h)
        return h.squeeze(-1)  # (members, N)

    def fit(self, X: np.ndarray, y: np.ndarray) -> "MLPEnsemble":
        self.y_mean, self.y_std = float(np.mean(y)), float(np.std(y)) or 1.0
        x = torch.as_tensor(X, dtype=torch.float32)
        target = torch.as_tensor((np.asarray(y) - self.y_mean) / self.y_std, dtype=torch.float32)
        self._init(X.shape[1])
        optimizer = torch.optim.Adam(self.weights + self.biases, lr=self.lr)
        for _ in range(self.epochs):
            optimizer.zero_grad()
            # sum over members of each member's mean squared error: independent problems
            loss = ((self._forward(x) - target) ** 2).mean(dim=1).sum()
            loss.backward()
            optimizer.step()
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) over the members, in the units of y."""
        with torch.no_grad():
            preds = self._forward(torch.as_tensor(X, dtype=torch.float32)).numpy() * self.y_std + self.y_mean
        return preds.mean(axis=0), preds.std(axis=0)
