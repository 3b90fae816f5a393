"""The PyTorch network of an NAS-Bench-201 cell: the benchmark's macro skeleton (Dong & Yang,
ICLR 2020, Fig. 1): a 3x3 conv stem, three stages of five cells at 16 / 32 / 64 channels joined
by residual reduction blocks, then BN-ReLU, global pooling and a linear classifier.

Cell node j sums op_{i->j}(node i) over i < j; ops are ReLU-Conv-BN (1x1, 3x3), 3x3 average
pooling, identity and zero, as in the benchmark's code. Parameter counts match the mirror's
``params_mb`` (tested), which is what makes this the benchmark's network and not a look-alike.
"""

from __future__ import annotations

import torch
from torch import nn

from nasstages.spaces.nb201 import EDGES, NB201Arch


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out))


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NB201 op {name!r}")


class NB201Cell(nn.Module):
    def __init__(self, arch: NB201Arch, channels: int) -> None:
        super().__init__()
        self.edges = list(EDGES)  # (to, from) in string order
        self.ops = nn.ModuleList(make_op(op, channels) for op in arch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for to in range(1, 4):
            nodes.append(sum(op(nodes[src]) for (dst, src), op in zip(self.edges, self.ops) if dst == to))
        return nodes[3]


class ResidualReduction(nn.Module):
    """NB201's ResNet basic block with stride 2 between stages."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


class NB201Network(nn.Module):
    """Stem, 3 x ``cells_per_stage`` cells with two residual reductions, head."""

    def __init__(self, arch: NB201Arch, num_classes: int = 10, channels: int = 16, cells_per_stage: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        layers: list[nn.Module] = []
        c = channels
        for stage in range(3):
            if stage > 0:
                layers.append(ResidualReduction(c, 2 * c))
                c *= 2
            layers += [NB201Cell(arch, c) for _ in range(cells_per_stage)]
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.lastact(self.cells(self.stem(x)))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
