"""Operation categories and the op-distance table D(o, o') shared by the OT distances.

HOTNAS (Yang, Liu, Xu) gives conv3×3–conv1×1 0.1, conv–pool 2, anything–FC 2, same op 0. We
extend it to every space's ops by category, reading the op name:

=================  =======================================================================
pair               D
=================  =======================================================================
same op            0
conv – conv        0.1  (different kernel / kind: HOTNAS's conv3–conv1 value)
pool – pool        0.1  (avg vs max)
identity – pool    1    (both parameter-free, one mixes neighbours)
identity – conv    2
conv – pool        2    (HOTNAS)
none – anything    2    (cuts the path)
input/output/fc    2    (structural anchors; DARTS's state_k-1/2, as HOTNAS's "anything–FC 2")
=================  =======================================================================
"""

from __future__ import annotations

import functools

import re
from typing import Sequence

import numpy as np


@functools.lru_cache(maxsize=None)
def category(op: str) -> str:
    """One of conv, pool, identity, none, io for an op name of any space (memoized: the TW and
    cell features ask it for every node of every architecture)."""
    name = op.lower()
    if name in ("input", "output", "fc", "linear", "head") or name.startswith("state_"):  # DARTS cell inputs
        return "io"
    if name in ("none", "zero", "zeroize"):
        return "none"
    if "skip" in name or "identity" in name:
        return "identity"
    if "pool" in name:
        return "pool"
    if "conv" in name:
        return "conv"
    raise ValueError(f"no op category for {op!r}; add it to nasstages/distances/ops.py")


def kernel_size(op: str) -> int:
    """Kernel size parsed from names like nor_conv_3x3 (1 when absent)."""
    match = re.search(r"(\d+)x\d+", op)
    return int(match[1]) if match else 1


def op_distance(a: str, b: str) -> float:
    """D(a, b) from the table in the module docstring."""
    if a == b:
        return 0.0
    ca, cb = category(a), category(b)
    if "io" in (ca, cb) or "none" in (ca, cb):
        return 2.0
    if ca == cb:
        return 0.1
    if {ca, cb} == {"identity", "pool"}:
        return 1.0
    return 2.0


VARIANT_SUFFIXES = ("_widen", "_stride2")  # TNB101 macro: a conv that also doubles width / halves resolution


def base_op(op: str) -> str:
    """The op without its width / resolution change (``conv_3x3_widen_stride2`` -> ``conv_3x3``)."""
    for suffix in VARIANT_SUFFIXES:
        op = op.replace(suffix, "")
    return op


def op_distance_table(vocabulary: Sequence[str], variant_cost: float = 0.1) -> np.ndarray:
    """|V|×|V| matrix of :func:`op_distance` over a vocabulary (a read-only array, built once per
    vocabulary: on-the-fly distances ask for it on every call). ``variant_cost`` replaces D between
    two ops that differ only in a width / resolution change (0.1, the conv–conv value, by default;
    an ablation knob of the macro representation)."""
    return _op_distance_table(tuple(vocabulary), float(variant_cost))


@functools.lru_cache(maxsize=64)
def _op_distance_table(vocabulary: tuple[str, ...], variant_cost: float) -> np.ndarray:
    table = np.array([[variant_cost if a != b and base_op(a) == base_op(b) else op_distance(a, b)
                       for b in vocabulary] for a in vocabulary], dtype=np.float64)
    table.setflags(write=False)
    return table
