"""Which torch device a stage runs on: ``auto`` takes the GPU when one is visible, else the CPU."""

from __future__ import annotations

from nasstages.errors import ConfigError


def resolve_device(name: str) -> str:
    """``auto`` -> cuda or cpu; ``cuda`` without a visible GPU fails with the fix."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda requested but torch sees no CUDA GPU; use device auto or cpu")
    return name
