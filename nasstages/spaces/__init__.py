"""Search spaces, registered by name."""

from nasstages.registry import Registry
from nasstages.spaces.base import Arch, ArchGraph, CellGraph, SearchSpace
from nasstages.spaces.darts import DartsSpace
from nasstages.spaces.nb101 import NB101Space
from nasstages.spaces.nb201 import NB201Space
from nasstages.spaces.tnb101 import TNB101MacroSpace, TNB101MicroSpace

SPACES: Registry[SearchSpace] = Registry("search space")
SPACES.register("nb201")(NB201Space)
SPACES.register("tnb101_micro")(TNB101MicroSpace)
SPACES.register("tnb101_macro")(TNB101MacroSpace)
SPACES.register("darts")(DartsSpace)
SPACES.register("nb101")(NB101Space)


def get_space(name: str) -> SearchSpace:
    """The search space registered as ``name`` (UnknownNameError lists the choices)."""
    return SPACES.get(name)()


__all__ = ["Arch", "ArchGraph", "CellGraph", "SearchSpace", "SPACES", "get_space"]
