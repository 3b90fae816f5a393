"""The PyTorch network of a DARTS genotype: CIFAR stem, ``layers`` cells (reductions at L/3 and
2L/3), optional auxiliary head after the second reduction, drop-path on the cell edges.

Follows the DARTS paper's evaluation network (Liu et al., ICLR 2019, Sec. 3 / App. A.2): ops
are ReLU-Conv-BN; separable convs are applied twice; a reduction cell's ops on the cell inputs
have stride 2; the previous-previous input of a cell after a reduction is brought to size by a
factorized reduce. DARTS-V2 at 36 channels and 20 cells has 3.3 M parameters (tested).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from nasstages.spaces.darts import DartsArch, reduction_positions


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
                         nn.BatchNorm2d(c_out))


class DilConv(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int) -> None:
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation=dilation, groups=c_in, bias=False),
                         nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


class SepConv(nn.Sequential):
    """Two stacked depthwise-separable convs (the first carries the stride)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(DilConv(c_in, c_in, kernel, stride, padding, 1), DilConv(c_in, c_out, kernel, 1, padding, 1))


class FactorizedReduce(nn.Module):
    """Halve resolution without losing odd pixels: two stride-2 1x1 convs, one shifted by a pixel."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_a = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_b = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(x[:, :, 1:, 1:])], dim=1))


class Pool(nn.Module):
    """DARTS's pools: max (no BN in the evaluation network) or avg excluding padding."""

    def __init__(self, kind: str, stride: int) -> None:
        super().__init__()
        self.pool = (nn.MaxPool2d(3, stride, 1) if kind == "max"
                     else nn.AvgPool2d(3, stride, 1, count_include_pad=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


OPS: dict[str, Callable[[int, int], nn.Module]] = {
    "max_pool_3x3": lambda c, s: Pool("max", s),
    "avg_pool_3x3": lambda c, s: Pool("avg", s),
    "skip_connect": lambda c, s: nn.Identity() if s == 1 else FactorizedReduce(c, c),
    "sep_conv_3x3": lambda c, s: SepConv(c, c, 3, s, 1),
    "sep_conv_5x5": lambda c, s: SepConv(c, c, 5, s, 2),
    "dil_conv_3x3": lambda c, s: DilConv(c, c, 3, s, 2, 2),
    "dil_conv_5x5": lambda c, s: DilConv(c, c, 5, s, 4, 2),
}


def drop_path(x: torch.Tensor, prob: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero whole samples' paths with probability ``prob`` and rescale the rest (DARTS's drop-path)."""
    keep = 1.0 - prob
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device).bernoulli_(keep, generator=generator)
    return x / keep * mask


class Cell(nn.Module):
    def __init__(self, edges: tuple[tuple[str, int], ...], c_prev_prev: int, c_prev: int, c: int,
                 reduction: bool, reduction_prev: bool) -> None:
        super().__init__()
        self.reduction = reduction
        self.pre0 = FactorizedReduce(c_prev_prev, c) if reduction_prev else ReLUConvBN(c_prev_prev, c, 1, 1, 0)
        self.pre1 = ReLUConvBN(c_prev, c, 1, 1, 0)
        self.inputs = [src for _, src in edges]
        self.ops = nn.ModuleList(OPS[op](c, 2 if reduction and src < 2 else 1) for op, src in edges)
        self.identity = [op == "skip_connect" for op, _ in edges]
        self.multiplier = len(edges) // 2

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for node in range(len(self.ops) // 2):
            total = 0
            for k in (2 * node, 2 * node + 1):
                h = self.ops[k](states[self.inputs[k]])
                if self.training and drop_prob > 0 and not self.identity[k]:
                    h = drop_path(h, drop_prob)
                total = total + h
            states.append(total)
        return torch.cat(states[2:], dim=1)


class AuxiliaryHead(nn.Module):
    """DARTS's CIFAR auxiliary classifier on the 8x8 maps after the second reduction."""

    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class DartsNetwork(nn.Module):
    """The CIFAR evaluation network of a genotype; ``forward`` returns (logits, auxiliary logits or None)."""

    def __init__(self, genotype: DartsArch, channels: int, layers: int, num_classes: int, auxiliary: bool) -> None:
        super().__init__()
        normal, reduce = genotype
        stem_multiplier = 3
        c_curr = stem_multiplier * channels
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_prev_prev, c_prev, c_curr = c_curr, c_curr, channels
        self.cells = nn.ModuleList()
        reductions = reduction_positions(layers)
        reduction_prev = False
        self.aux_position = reductions[1]
        c_aux = None
        for k in range(layers):
            reduction = k in reductions
            if reduction:
                c_curr *= 2
            cell = Cell(reduce if reduction else normal, c_prev_prev, c_prev, c_curr, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * c_curr
            if k == self.aux_position:
                c_aux = c_prev
        self.auxiliary = AuxiliaryHead(c_aux, num_classes) if auxiliary else None
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)
        self.drop_path_prob = 0.0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        s0 = s1 = self.stem(x)
        aux = None
        for k, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if k == self.aux_position and self.auxiliary is not None and self.training:
                aux = self.auxiliary(s1)
        return self.classifier(self.pool(s1).flatten(1)), aux


def count_parameters(model: nn.Module, *, exclude_auxiliary: bool = True) -> int:
    """Trainable parameters; DARTS reports the size without the auxiliary head."""
    return sum(p.numel() for name, p in model.named_parameters()
               if p.requires_grad and not (exclude_auxiliary and name.startswith("auxiliary.")))
