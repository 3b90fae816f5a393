"""A training protocol: every setting that changes what a trained network scores (torch-free, so
config validation can check protocols without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from nasstages.errors import ConfigError


@dataclass(frozen=True)
class Protocol:
    """How a network is trained. Defaults are DARTS's final evaluation (600 epochs, 36 channels,
    20 cells, auxiliary 0.4, drop-path 0.2, cutout 16, batch 96, lr 0.025, wd 3e-4)."""

    epochs: int = 600
    channels: int = 36
    layers: int = 20
    batch_size: int = 96
    learning_rate: float = 0.025
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    auxiliary: float = 0.4       # weight of the auxiliary loss; 0 disables the head
    drop_path: float = 0.2       # final drop-path probability (ramped linearly from 0)
    cutout: int = 16             # cutout square side; 0 disables
    valid_size: int = 0          # images held out of the training set for validation (0: none)
    train_size: int = 0          # images to train on (0: all left after the hold-out)
    eval_test: bool = True       # also report test accuracy (final evaluations)
    amp: bool = True             # mixed precision when training on a GPU

    @classmethod
    def from_params(cls, params: dict[str, Any], where: str = "protocol") -> "Protocol":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ConfigError(f"config {where}: unknown training setting(s) {', '.join(unknown)}; "
                              f"choose from: {', '.join(sorted(known))}")
        protocol = cls(**params)
        if protocol.epochs < 1 or protocol.channels < 1 or protocol.layers < 3 or protocol.batch_size < 1:
            raise ConfigError(f"config {where}: epochs, channels, batch_size must be >= 1 and layers >= 3")
        if not 0 <= protocol.drop_path < 1:
            raise ConfigError(f"config {where}: drop_path must be in [0, 1)")
        return protocol
