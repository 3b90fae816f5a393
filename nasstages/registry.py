"""Name -> class registries, so that adding a space or a method is one module plus one line."""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Generic, Iterator, TypeVar

from nasstages.errors import ConfigError, UnknownNameError

T = TypeVar("T")


def import_target(target: str) -> Any:
    """The attribute a ``"package.module:attribute"`` path names, imported now."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


class Registry(Generic[T]):
    """Maps config names to factories; unknown names fail with the list of known ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}
        self._lazy: dict[str, str] = {}  # name -> "module:attribute", imported on first use

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering a class or factory under ``name``."""

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = factory
            return factory

        return decorate

    def register_lazy(self, name: str, target: str) -> None:
        """Register ``"package.module:Attribute"`` under ``name`` without importing it yet
        (keeps heavy dependencies such as torch out of commands that do not use them)."""
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._lazy[name] = target

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``; raises UnknownNameError naming the choices."""
        if name in self._lazy:
            self._entries[name] = import_target(self._lazy.pop(name))
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names()) or '(none)'}"
            ) from None

    def parameters(self, name: str) -> list[str]:
        """Parameters a config may set for ``name``: those with defaults, before any ``*``.

        Context arguments (the space, an RNG) have no default; keyword-only ones (e.g. a
        device) are run settings that do not change results, so configs do not set them."""
        signature = inspect.signature(self.get(name))
        return [p.name for p in signature.parameters.values()
                if p.kind == p.POSITIONAL_OR_KEYWORD and p.default is not p.empty]

    def check_params(self, name: str, params: dict[str, Any], where: str = "") -> None:
        """Raise if ``name`` is unknown or ``params`` sets a parameter it does not accept."""
        prefix = f"config {where}: " if where else ""
        if name not in self:
            raise UnknownNameError(f"{prefix}unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}")
        accepted = self.parameters(name)
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise ConfigError(
                f"{prefix}{self.kind} {name!r} has no parameter(s) {', '.join(unknown)}; "
                f"it accepts: {', '.join(accepted) or 'none'}"
            )
        factory = self.get(name)
        defaults = {p.name: p.default for p in inspect.signature(factory).parameters.values()}
        for key, value in params.items():
            problem = _value_problem(value, defaults[key], getattr(factory, "param_choices", {}).get(key),
                                     getattr(factory, "param_ranges", {}).get(key))
            if problem:
                raise ConfigError(f"{prefix}{self.kind} {name!r} parameter {key}={value!r}: {problem}")

    def names(self) -> list[str]:
        return sorted({*self._entries, *self._lazy})

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _value_problem(value: Any, default: Any, choices: tuple | None, bounds: tuple | None) -> str:
    """What is wrong with ``value`` for a parameter whose default is ``default`` ('' if nothing).

    The type is the default's (an int where it is an int, a number where a float, text where
    text); a count (an int default >= 1) must be >= 1; ``choices`` and ``bounds`` (lo, hi,
    inclusive, None for open) are what a class declares in ``param_choices`` / ``param_ranges``."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            return "must be true or false"
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if bounds is None and default >= 1 and value < 1:
            return "must be at least 1"
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
    elif isinstance(default, str) and not isinstance(value, str):
        return "must be a string"
    if choices is not None and value not in choices:
        return f"choose one of: {', '.join(map(str, choices))}"
    if bounds is not None:
        lo, hi = bounds
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return f"must lie in [{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
    return ""
