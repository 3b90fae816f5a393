"""A training protocol: every setting that changes what a trained network scores (torch-free, so
config validation can check protocols without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from nasstages.errors import ConfigError, reject_unknown_keys


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
        reject_unknown_keys(params, {f.name for f in fields(cls)}, f"config {where}", noun="training setting")
        protocol = cls(**params)
        if protocol.epochs < 1 or protocol.channels < 1 or protocol.layers < 3 or protocol.batch_size < 1:
            raise ConfigError(f"config {where}: epochs, channels, batch_size must be >= 1 and layers >= 3")
        if not 0 <= protocol.drop_path < 1:
            raise ConfigError(f"config {where}: drop_path must be in [0, 1)")
        if protocol.valid_size == 0 and not protocol.eval_test:
            raise ConfigError(f"config {where}: the protocol measures nothing; set valid_size > 0 or eval_test: true")
        return protocol


#: What a search query trains when the config says nothing: a short proxy of the final protocol
#: (DARTS's search network size, 10 epochs, half of CIFAR's training set held out for validation).
SEARCH_PROTOCOL = {"epochs": 10, "channels": 16, "layers": 8, "batch_size": 64, "auxiliary": 0.0, "drop_path": 0.0,
                   "cutout": 0, "valid_size": 25000, "eval_test": False}


def search_protocol(params: dict[str, Any]) -> Protocol:
    """A search query's protocol: SEARCH_PROTOCOL overridden by ``params``; it must hold out
    validation images, since the searcher observes the validation accuracy."""
    protocol = Protocol.from_params({**SEARCH_PROTOCOL, **params}, where="benchmarks.darts.search")
    if protocol.valid_size < 1:
        raise ConfigError("config benchmarks.darts.search.valid_size: a search observes validation accuracy; "
                          "hold out images (e.g. 25000)")
    return protocol
