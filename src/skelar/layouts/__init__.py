"""Joint layouts as data: names, parents, centre, left/right pairs and edges, in a small registry.

A layout is declared in YAML (the schema is in :mod:`skelar.layouts.schema`; the bundled ``*.yaml``
files next to this module are examples). Datasets record their layout; transforms, streams and graph
models all read that same object, and a dataset's layout becomes usable by name once the dataset is opened.
"""

from __future__ import annotations

from pathlib import Path

from skelar.layouts.layout import Coordinates, JointLayout
from skelar.layouts.schema import LAYOUT_KEYS, layout_from_dict, load_layout_file

__all__ = [
    "JointLayout",
    "Coordinates",
    "LAYOUT_KEYS",
    "get_layout",
    "list_layouts",
    "register_layout",
    "adopt_layout",
    "load_layout_file",
    "layout_from_dict",
    "layout_from_ref",
]

_BUNDLED_DIR = Path(__file__).parent
_REGISTRY: dict[str, JointLayout] = {}


def register_layout(layout: JointLayout, overwrite: bool = False) -> JointLayout:
    """Add a layout to the registry (``overwrite`` replaces one of the same name)."""
    existing = _REGISTRY.get(layout.name)
    if existing is not None and existing != layout and not overwrite:
        raise ValueError(f"a different layout named {layout.name!r} is already registered")
    _REGISTRY[layout.name] = layout
    return layout


def adopt_layout(layout: JointLayout, source: str = "dataset") -> JointLayout:
    """Make a dataset's (or checkpoint's) layout usable by name; returns the layout to use.

    An unknown name is registered. A registered layout of the same name must have the same skeleton
    (joints, parents, centre, extra edges), else this is an error naming ``source``; the registered one
    is returned then (it may carry roles, such as left/right pairs, that an older dataset file lacks).
    """
    existing = _REGISTRY.get(layout.name)
    if existing is None:
        return register_layout(layout)
    if not existing.same_skeleton(layout):
        raise ValueError(
            f"{source}: its layout {layout.name!r} differs from the registered layout of that name "
            f"(joints, parents or centre); give the dataset's layout another name"
        )
    return existing if not layout.left_right and not layout.coordinates.to_dict() else layout


def get_layout(name_or_layout: "str | JointLayout | dict") -> JointLayout:
    """Look up a registered layout by name (a layout or a layout dict passes through)."""
    if isinstance(name_or_layout, JointLayout):
        return name_or_layout
    if isinstance(name_or_layout, dict):
        return layout_from_dict(name_or_layout)
    try:
        return _REGISTRY[name_or_layout]
    except (KeyError, TypeError):
        raise KeyError(f"unknown joint layout {name_or_layout!r}; known: {', '.join(list_layouts())}") from None


def layout_from_ref(ref: "str | Path | JointLayout") -> JointLayout:
    """A registered layout name or the path of a layout YAML file."""
    if isinstance(ref, JointLayout):
        return ref
    text = str(ref)
    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        return load_layout_file(text)
    return get_layout(text)


def list_layouts() -> list[str]:
    """Sorted names of the registered joint layouts."""
    return sorted(_REGISTRY)


for _p in sorted(_BUNDLED_DIR.glob("*.yaml")):
    register_layout(load_layout_file(_p))
