"""Composable sample transforms and their registry.

A transform is a callable ``t(x, rng) -> x`` on one sample, where ``x`` is a NumPy array in the
canonical ``(C, T, V, M)`` layout and ``rng`` a :class:`numpy.random.Generator` owned by the caller
(the dataset seeds it per sample and epoch, so results are reproducible and resumable).
Transforms are built from config entries ``{name: ..., **kwargs}``.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from skelar.registry import Registry

__all__ = ["TRANSFORMS", "Transform", "Compose", "register_transform", "build_transform", "build_transforms", "list_transforms"]


class Transform(Protocol):
    """A callable on one ``(C, T, V, M)`` sample that draws any randomness from the caller's ``rng``."""

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


TRANSFORMS: Registry[type] = Registry("transform")


def register_transform(name: str) -> Callable[[type], type]:
    """Class decorator: make a transform constructible from config by ``name``."""

    def deco(cls: type) -> type:
        TRANSFORMS.register(name, cls)
        cls.registry_name = name
        return cls

    return deco


def list_transforms() -> list[str]:
    """Sorted names of the registered transforms."""
    return TRANSFORMS.names()


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for t in self.transforms:
            x = t(x, rng)
        return x

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


def build_transform(spec: dict[str, Any], where: str = "transform") -> Transform:
    """Build one transform from ``{name: ..., **kwargs}``; errors name ``where``."""
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"{where}: expected a mapping with a 'name' key, got {spec!r}")
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    name = spec["name"]
    cls = TRANSFORMS.get(name, f"{where}.name")
    params = inspect.signature(cls.__init__).parameters
    for k in kwargs:
        if k not in params or k == "self":
            allowed = [p for p in params if p != "self"]
            raise ValueError(f"{where}.{k}: transform {name!r} has no parameter {k!r} (allowed: {', '.join(allowed) or 'none'})")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from None


def build_transforms(specs: Sequence[dict[str, Any]] | None, where: str = "transforms") -> Compose:
    """Build a :class:`Compose` from a list of ``{name: ..., **kwargs}`` entries; errors name ``where[i]``."""
    return Compose([build_transform(s, f"{where}[{i}]") for i, s in enumerate(specs or [])])
