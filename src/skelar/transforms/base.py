"""Composable sample transforms and their registry.

A transform is a callable ``t(x, rng) -> x`` on one sample, where ``x`` is a NumPy array in the
canonical ``(C, T, V, M)`` layout and ``rng`` a :class:`numpy.random.Generator` owned by the caller
(the dataset seeds it per sample and epoch, so results are reproducible and resumable).
Transforms are built from config entries ``{name: ..., **kwargs}``.

A transform that needs a joint layout takes a ``layout`` constructor parameter without a default.
:func:`build_transforms` passes it the dataset's layout; a config entry may repeat that layout's name
but never name another one, and without a dataset layout such a transform refuses to build.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from skelar.layouts import JointLayout
from skelar.registry import Registry

__all__ = ["TRANSFORMS", "Transform", "Compose", "register_transform", "build_transform", "build_transforms", "list_transforms", "needs_layout", "check_transforms"]


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


def needs_layout(name: str) -> bool:
    """Whether the registered transform ``name`` takes the dataset's joint layout (a ``layout`` parameter)."""
    return "layout" in inspect.signature(TRANSFORMS.get(name).__init__).parameters


def _with_layout(name: str, kwargs: dict[str, Any], layout: JointLayout | None, where: str) -> dict[str, Any]:
    """``kwargs`` with the dataset's ``layout`` filled in; naming a different layout is an error."""
    named = kwargs.get("layout")
    if layout is None:
        if named is None:
            raise ValueError(f"{where}: transform {name!r} needs the dataset's joint layout, and none was given")
        return kwargs
    if named is not None and (named.name if isinstance(named, JointLayout) else str(named)) != layout.name:
        raise ValueError(
            f"{where}.layout: {named if isinstance(named, str) else named.name!r} is not the dataset's layout "
            f"{layout.name!r}; leave 'layout' out (transforms use the dataset's own layout)"
        )
    return {**kwargs, "layout": layout}


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


def build_transform(spec: dict[str, Any], where: str = "transform", layout: JointLayout | None = None, check_only: bool = False) -> Transform:
    """Build one transform from ``{name: ..., **kwargs}``; ``layout`` is the dataset's; errors name ``where``.

    ``check_only`` (config validation, before the dataset is open): a transform that needs the
    dataset's layout has its name and parameter names checked and is not built (``None`` is returned).
    """
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
    if "layout" in params:
        if layout is None and check_only:
            return None  # checked as far as possible without the dataset (its layout may not be registered yet)
        kwargs = _with_layout(name, kwargs, layout, where)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, KeyError) as e:
        raise ValueError(f"{where}: {e.args[0] if isinstance(e, KeyError) else e}") from None


def build_transforms(specs: Sequence[dict[str, Any]] | None, where: str = "transforms", layout: JointLayout | None = None) -> Compose:
    """A :class:`Compose` of ``specs``; transforms that need a joint layout get ``layout`` (the dataset's)."""
    return Compose([build_transform(s, f"{where}[{i}]", layout) for i, s in enumerate(specs or [])])


def check_transforms(specs: Sequence[dict[str, Any]] | None, where: str = "transforms") -> None:
    """Validate ``specs`` before the dataset (and so its layout) is known; raises ``ValueError`` naming ``where[i]``."""
    for i, s in enumerate(specs or []):
        build_transform(s, f"{where}[{i}]", check_only=True)
