"""Name -> class registries, so that adding a space or a method is one module plus one line."""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Generic, Iterator, TypeVar

from nasstages.errors import ConfigError, UnknownNameError

T = TypeVar("T")


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
            module, _, attribute = self._lazy.pop(name).partition(":")
            self._entries[name] = getattr(importlib.import_module(module), attribute)
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

    def names(self) -> list[str]:
        return sorted({*self._entries, *self._lazy})

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
