"""TransNAS-Bench-101 spaces (Duan et al., CVPR 2021): the micro (cell) and macro (skeleton) spaces.

Micro: ``64-41414-a_bc_def`` — a fixed skeleton of five modules (41414) repeating one 4-node cell
whose six edges are ordered exactly as NB201's (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2), with ops
0 none, 1 skip-connect, 2 conv1x1, 3 conv3x3; so it is NB201's cell space with four ops
(4,096 cells; 169 of them have no input-output path). Indices follow the string order.

Macro: ``64-<4 to 6 digits>-basic`` — a stack of ResNet basic modules, 1 normal, 2 channel x2,
3 resolution /2, 4 both; valid stacks have 1-4 downsampling modules (3, 4) and 1-3
channel-doubling modules (2, 4): 3,256 networks. Indices follow the sorted strings.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from functools import lru_cache
from typing import Iterator, Sequence

import numpy as np

from nasstages.spaces.base import ArchGraph, CellGraph, SearchSpace, memoized_strings
from nasstages.spaces.nb201 import EDGES, NB201Space

MICRO_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
MICRO_SKELETON = "41414"
MicroArch = tuple[str, str, str, str, str, str]
_MICRO_DIGIT = {op: str(k) for k, op in enumerate(MICRO_OPS)}


class TNB101MicroSpace(NB201Space):
    """The micro space: NB201's cell with four ops; HOTNN reduces to the cell level on it."""

    name = "tnb101_micro"
    OPS = MICRO_OPS

    @memoized_strings
    def to_string(self, arch: MicroArch) -> str:
        try:
            d = [_MICRO_DIGIT[op] for op in arch]
        except KeyError as exc:
            raise ValueError(f"{exc.args[0]!r} is not a TransNAS-Bench-101 micro op ({', '.join(MICRO_OPS)})") from None
        return f"64-{MICRO_SKELETON}-{d[0]}_{d[1]}{d[2]}_{d[3]}{d[4]}{d[5]}"

    def from_string(self, text: str) -> MicroArch:
        match = re.fullmatch(r"64-41414-([0-3])_([0-3]{2})_([0-3]{3})", text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"invalid TransNAS-Bench-101 micro string {text!r}: expected 64-41414-a_bc_def "
                             "with digits 0 (none), 1 (skip), 2 (conv1x1), 3 (conv3x3)")
        digits = "".join(match.groups())
        return tuple(self.OPS[int(c)] for c in digits)  # type: ignore[return-value]

    def to_index(self, arch: MicroArch) -> int:
        code = 0
        for op in arch:
            code = code * len(self.OPS) + self.OPS.index(op)
        return code

    def from_index(self, index: int) -> MicroArch:
        if not 0 <= int(index) < self.size:
            raise ValueError(f"{self.name} index {index} out of range 0..{self.size - 1}")
        code, ops = int(index), []
        for _ in EDGES:
            code, digit = divmod(code, len(self.OPS))
            ops.append(self.OPS[digit])
        return tuple(reversed(ops))  # type: ignore[return-value]

    def enumerate(self) -> Iterator[MicroArch]:
        return (self.from_index(i) for i in range(self.size))


MacroArch = tuple[int, ...]
MODULE_NAMES = {1: "normal", 2: "channel x2", 3: "resolution /2", 4: "channel x2, resolution /2"}
# A ResNet basic module as an op-on-node graph: input -> conv A -> conv B -> output, plus the
# shortcut input -> S -> output. A module that changes resolution or width does it in its first
# conv and in a 1x1 projection on the shortcut; that change is written into those ops' names,
# so the op distance sees it (conv vs conv 0.1 each; identity shortcut vs projection 2).
MODULE_OPS = {
    1: ("input", "conv_3x3", "conv_3x3", "skip_connect", "output"),
    2: ("input", "conv_3x3_widen", "conv_3x3", "conv_1x1_widen", "output"),
    3: ("input", "conv_3x3_stride2", "conv_3x3", "conv_1x1_stride2", "output"),
    4: ("input", "conv_3x3_widen_stride2", "conv_3x3", "conv_1x1_widen_stride2", "output"),
}
MODULE_VOCABULARY: tuple[str, ...] = tuple(dict.fromkeys(op for ops in MODULE_OPS.values() for op in ops))
_MODULE_ADJACENCY = np.zeros((5, 5), dtype=np.uint8)
for _a, _b in ((0, 1), (1, 2), (2, 4), (0, 3), (3, 4)):
    _MODULE_ADJACENCY[_a, _b] = 1


def is_valid_macro(arch: Sequence[int]) -> bool:
    """4-6 modules over 1..4 with 1-4 downsampling (3, 4) and 1-3 channel-doubling (2, 4) ones."""
    down = sum(m in (3, 4) for m in arch)
    wide = sum(m in (2, 4) for m in arch)
    return 4 <= len(arch) <= 6 and all(m in (1, 2, 3, 4) for m in arch) and 1 <= down <= 4 and 1 <= wide <= 3


@lru_cache(maxsize=1)
def _macro_table() -> tuple[tuple[MacroArch, ...], dict[MacroArch, int]]:
    archs = [a for n in range(4, 7) for a in itertools.product((1, 2, 3, 4), repeat=n) if is_valid_macro(a)]
    archs.sort(key=lambda a: "".join(map(str, a)))  # the sorted official strings
    return tuple(archs), {a: k for k, a in enumerate(archs)}


@lru_cache(maxsize=None)
def _macro_neighbours(arch: MacroArch) -> tuple[MacroArch, ...]:
    """The sorted valid one-edit neighbours, computed once per network (a BO round mutates the same
    ten parents 60 times: rebuilding the list was most of a pool-protocol macro run)."""
    edits: set[MacroArch] = set()
    for k in range(len(arch)):
        edits.update(arch[:k] + (m,) + arch[k + 1:] for m in (1, 2, 3, 4) if m != arch[k])
        edits.add(arch[:k] + arch[k + 1:])
    for k in range(len(arch) + 1):
        edits.update(arch[:k] + (m,) + arch[k:] for m in (1, 2, 3, 4))
    valid = _macro_table()[1]  # every valid network (dict lookup: 5x faster than re-checking the rules)
    return tuple(sorted((e for e in edits if e != arch and e in valid), key=lambda a: (len(a), a)))


class TNB101MacroSpace(SearchSpace):
    """The macro space: networks differ in their module sequence, so ``to_graph`` gives one
    graph per module type and the skeleton lists the modules in order (HOTNN's network level)."""

    name = "tnb101_macro"
    max_network_nodes = 6 * 4 + 1  # six 5-node modules chained

    @property
    def size(self) -> int:
        return len(_macro_table()[0])

    def to_index(self, arch: MacroArch) -> int:
        try:
            return _macro_table()[1][tuple(arch)]
        except KeyError:
            raise ValueError(f"{arch} is not a valid TransNAS-Bench-101 macro network") from None

    def from_index(self, index: int) -> MacroArch:
        if not 0 <= int(index) < self.size:
            raise ValueError(f"{self.name} index {index} out of range 0..{self.size - 1}")
        return _macro_table()[0][int(index)]

    def enumerate(self) -> Iterator[MacroArch]:
        return iter(_macro_table()[0])

    def sample(self, rng: np.random.Generator) -> MacroArch:
        return self.from_index(int(rng.integers(self.size)))

    def neighbours(self, arch: MacroArch) -> list[MacroArch]:
        """Every valid network one module change, insertion or deletion away."""
        return list(_macro_neighbours(tuple(arch)))

    def mutate(self, arch: MacroArch, rng: np.random.Generator) -> MacroArch:
        """Change, insert or delete one module, uniformly over the edits that stay valid."""
        options = _macro_neighbours(arch if type(arch) is tuple else tuple(arch))
        return options[int(rng.integers(len(options)))]

    @memoized_strings
    def to_string(self, arch: MacroArch) -> str:
        return f"64-{''.join(map(str, arch))}-basic"

    def from_string(self, text: str) -> MacroArch:
        match = re.fullmatch(r"64-([1-4]{4,6})-basic", text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"invalid TransNAS-Bench-101 macro string {text!r}: expected 64-<4 to 6 digits "
                             "of 1-4>-basic")
        arch = tuple(int(c) for c in match[1])
        if not is_valid_macro(arch):
            raise ValueError(f"invalid TransNAS-Bench-101 macro network {text!r}: it needs 1-4 downsampling "
                             "modules (3 or 4) and 1-3 channel-doubling modules (2 or 4)")
        return arch

    def iso_hash(self, arch: MacroArch) -> str:
        return hashlib.sha256(self.to_string(arch).encode("ascii")).hexdigest()[:16]

    def to_graph(self, arch: MacroArch) -> ArchGraph:
        cells = {f"module{m}": CellGraph(adjacency=_MODULE_ADJACENCY.copy(), ops=MODULE_OPS[m],
                                          vocabulary=MODULE_VOCABULARY) for m in sorted(set(arch))}
        return ArchGraph(cells=cells, skeleton=tuple(f"module{m}" for m in arch))
