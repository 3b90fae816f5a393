"""Zero-shot performance estimators ("proxies") of an untrained network.

Definitions follow Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS" (ICLR 2021) and
Mellor et al., "Neural Architecture Search without Training" (ICML 2021); every score is "higher
predicts better", as in those papers. Over the weights θ of conv and linear layers:

- ``params``: number of trainable parameters; ``flops``: multiply-accumulates of one image.
- ``grad_norm``: Σ_layers ‖∂L/∂θ‖₂ for the cross-entropy L of one minibatch.
- ``snip``: Σ |θ ⊙ ∂L/∂θ| (Lee et al. 2019, connection sensitivity).
- ``synflow``: Σ θ ⊙ ∂R/∂θ with |θ| in place of θ, R = Σ f(1) the summed output for an all-ones
  input, in float64 with BN in eval mode (Tanaka et al. 2020; data-free).
- ``jacob_cov``: −Σᵢ [log(λᵢ + k) + 1/(λᵢ + k)], k = 1e-5, λ the eigenvalues of the correlation
  matrix of the per-image input Jacobians of the summed output (Mellor et al., v1).
- ``naswot``: log|K_H|, K_H[i, j] = number of ReLUs on which images i and j agree (both active or
  both inactive) (Mellor et al., v2, Eq. 2).
"""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch
from torch import nn

from nasstages.evaluators.model import count_parameters
from nasstages.evaluators.proxy_names import PROXIES


def _weighted_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def params(model: nn.Module, *_: object) -> float:
    return float(count_parameters(model))


@torch.no_grad()
def flops(model: nn.Module, inputs: torch.Tensor, *_: object) -> float:
    """Multiply-accumulates of conv and linear layers for one input image."""
    total = [0]

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            kernel = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            total[0] += output[0].numel() * kernel
        else:
            total[0] += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in _weighted_layers(model)]
    try:
        model.eval()
        model(inputs[:1])
    finally:
        for handle in handles:
            handle.remove()
    return float(total[0])


def _loss_gradients(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> list[nn.Module]:
    model.train()
    model.zero_grad()
    nn.functional.cross_entropy(model(inputs), targets).backward()
    return [m for m in _weighted_layers(model) if m.weight.grad is not None]


def grad_norm(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    layers = _loss_gradients(model, inputs, targets)
    return float(sum(float(m.weight.grad.norm()) for m in layers))


def snip(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    layers = _loss_gradients(model, inputs, targets)
    return float(sum(float((m.weight.detach() * m.weight.grad).abs().sum()) for m in layers))


def synflow(model: nn.Module, inputs: torch.Tensor, *_: object) -> float:
    net = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad()
    ones = torch.ones((1, *inputs.shape[1:]), dtype=torch.float64, device=inputs.device)
    net(ones).sum().backward()
    return float(sum(float((m.weight.detach() * m.weight.grad).sum()) for m in _weighted_layers(net)
                     if m.weight.grad is not None))


def jacob_cov(model: nn.Module, inputs: torch.Tensor, *_: object) -> float:
    model.train()
    x = inputs.clone().requires_grad_(True)
    model.zero_grad()
    model(x).sum().backward()
    jacobians = x.grad.reshape(len(x), -1).detach().cpu().numpy().astype(np.float64)
    corr = np.corrcoef(jacobians)
    eigenvalues = np.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-np.sum(np.log(eigenvalues + k) + 1.0 / (eigenvalues + k)))


@torch.no_grad()
def naswot(model: nn.Module, inputs: torch.Tensor, *_: object) -> float:
    codes: list[torch.Tensor] = []

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        codes.append((args[0] > 0).reshape(len(args[0]), -1).double())

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        model.train()
        model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    if not codes:
        raise ValueError("naswot needs ReLU activations; the network has none")
    c = torch.cat(codes, dim=1)
    kernel = c @ c.T + (1 - c) @ (1 - c).T
    return float(torch.linalg.slogdet(kernel)[1])


SCORERS: dict[str, Callable[..., float]] = {
    "params": params, "flops": flops, "synflow": synflow, "grad_norm": grad_norm, "snip": snip,
    "jacob_cov": jacob_cov, "naswot": naswot,
}


def score(proxy: str, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """The named proxy of ``model`` on a minibatch (ignored by the data-free ones but flops' shape)."""
    if proxy not in SCORERS:
        raise ValueError(f"unknown proxy {proxy!r}; choose from: {', '.join(PROXIES)}")
    return SCORERS[proxy](model, inputs, targets)
