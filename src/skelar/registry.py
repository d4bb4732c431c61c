"""One small name → object registry behind every extension point (models, transforms, losses, ...).

This module is the bottom floor of the package: it imports nothing from skelar, so any layer may use it.
An extension registers itself when its module is imported::

    LOSSES = Registry("loss")

    @LOSSES.register("focal")
    def focal(...): ...

    LOSSES.get("focal")          # the object; an unknown name raises UnknownNameError listing the known ones
    LOSSES.names()               # sorted names (optionally filtered by a shell-style pattern)
"""

from __future__ import annotations

import fnmatch
from typing import Any, Callable, Generic, Iterator, TypeVar

__all__ = ["Registry", "UnknownNameError", "all_registries"]

T = TypeVar("T")

_ALL: dict[str, "Registry[Any]"] = {}


class UnknownNameError(KeyError, ValueError):
    """A name that is not registered. Both a KeyError (lookup) and a ValueError (bad config value)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """Names mapped to objects of one kind; ``kind`` ("model", "transform", ...) appears in error messages."""

    def __init__(self, kind: str, plural: str | None = None):
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self._items: dict[str, T] = {}
        _ALL.setdefault(self.plural, self)

    def register(self, name: str, obj: T | None = None, *, replace: bool = False) -> Any:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator that registers its target.

        Registering a second, different object under a taken name raises ValueError unless ``replace``.
        """
        if obj is None:

            def deco(target: T) -> T:
                self.register(name, target, replace=replace)
                return target

            return deco
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if name in self._items and self._items[name] is not obj and not replace:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._items[name] = obj
        return obj

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests and plugins that register temporary entries use it)."""
        self._items.pop(name, None)

    def names(self, pattern: str | None = None) -> list[str]:
        """Sorted registered names, optionally filtered by a shell-style ``pattern``."""
        names = sorted(self._items)
        return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names

    def in_order(self) -> list[str]:
        """Registered names in the order they were registered (built-ins first)."""
        return list(self._items)

    def choices_error(self, name: Any) -> ValueError:
        """``input should be 'a', 'b' or 'c' (got 'x')``: the config error for a name not registered."""
        quoted = [repr(n) for n in self.in_order()]
        alternatives = " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted) or "nothing (none registered)"
        return ValueError(f"input should be {alternatives} (got {name!r})")

    def unknown(self, name: Any, where: str | None = None, known_word: str = "known") -> UnknownNameError:
        """The one-line error for an unregistered ``name`` (prefixed by ``where:`` when given)."""
        prefix = f"{where}: " if where else ""
        return UnknownNameError(f"{prefix}unknown {self.kind} {name!r}; {known_word}: {', '.join(self.names()) or 'none'}")

    def get(self, name: str, where: str | None = None) -> T:
        """The object registered under ``name``; an unknown name raises :class:`UnknownNameError`."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise self.unknown(name, where) from None

    def check(self, name: Any, where: str | None = None) -> Any:
        """Return ``name`` if registered, else raise the one-line :class:`UnknownNameError` naming ``where``."""
        if not isinstance(name, str) or name not in self._items:
            raise self.unknown(name, where)
        return name

    def items(self) -> list[tuple[str, T]]:
        """``(name, object)`` pairs sorted by name."""
        return sorted(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"


def all_registries() -> dict[str, Registry[Any]]:
    """Every registry created so far, by plural name (``skelar list`` shows them)."""
    return dict(_ALL)

