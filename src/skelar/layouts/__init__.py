"""Joint layouts as data: names, parents and edges, in a small registry.

A layout is declared in YAML (see the bundled ``*.yaml`` files next to this module)::

    name: ntu25
    center: 1                # joint used as origin when centring
    joints:
      - {name: SpineBase, parent: SpineMid}
      - ...
      - {name: SpineShoulder, parent: SpineShoulder}   # the root is its own parent

Datasets, transforms (bones, centring) and graph models all read the same object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = [
    "JointLayout",
    "get_layout",
    "list_layouts",
    "register_layout",
    "load_layout_file",
    "layout_from_dict",
]

_BUNDLED_DIR = Path(__file__).parent
_REGISTRY: dict[str, "JointLayout"] = {}


@dataclass(frozen=True)
class JointLayout:
    """A skeleton's joints: ``names[v]``, ``parents[v]`` (0-based, root is its own parent)."""

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    center: int = 0
    description: str = ""
    extra_edges: tuple[tuple[int, int], ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.names)
        if n == 0:
            raise ValueError(f"layout {self.name!r}: no joints")
        if len(self.parents) != n:
            raise ValueError(f"layout {self.name!r}: {len(self.parents)} parents for {n} joints")
        if len(set(self.names)) != n:
            raise ValueError(f"layout {self.name!r}: duplicate joint names")
        for v, p in enumerate(self.parents):
            if not 0 <= p < n:
                raise ValueError(f"layout {self.name!r}: joint {self.names[v]!r} has parent index {p} out of range")
        if not 0 <= self.center < n:
            raise ValueError(f"layout {self.name!r}: center {self.center} out of range")
        roots = [v for v, p in enumerate(self.parents) if v == p]
        if not roots:
            raise ValueError(f"layout {self.name!r}: no root (a joint that is its own parent)")
        # every joint must reach a root without cycles
        for v in range(n):
            seen = set()
            u = v
            while self.parents[u] != u:
                if u in seen:
                    raise ValueError(f"layout {self.name!r}: parent cycle through joint {self.names[v]!r}")
                seen.add(u)
                u = self.parents[u]

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def edges(self) -> list[tuple[int, int]]:
        """Undirected skeleton edges ``(child, parent)`` plus any declared extra edges."""
        tree = [(v, p) for v, p in enumerate(self.parents) if v != p]
        return tree + [e for e in self.extra_edges if e not in tree]

    @property
    def bone_pairs(self) -> list[tuple[int, int]]:
        """``(joint, parent)`` for every joint, roots paired with themselves (zero bone)."""
        return list(enumerate(self.parents))

    def index(self, joint: str) -> int:
        """The index of the joint named ``joint`` (KeyError naming the layout otherwise)."""
        try:
            return self.names.index(joint)
        except ValueError:
            raise KeyError(f"layout {self.name!r} has no joint {joint!r}") from None

    def adjacency(self, self_loops: bool = False) -> np.ndarray:
        """Symmetric 0/1 adjacency matrix ``(V, V)``."""
        a = np.zeros((self.num_joints, self.num_joints), dtype=np.float32)
        for i, j in self.edges:
            a[i, j] = a[j, i] = 1.0
        if self_loops:
            a += np.eye(self.num_joints, dtype=np.float32)
        return a

    def to_dict(self) -> dict[str, Any]:
        """The layout as plain values (what checkpoints and ``dataset.yaml`` record)."""
        d: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "center": self.center,
            "joints": [{"name": n, "parent": self.names[p]} for n, p in zip(self.names, self.parents)],
        }
        if self.extra_edges:
            d["extra_edges"] = [[self.names[i], self.names[j]] for i, j in self.extra_edges]
        return d


def layout_from_dict(d: dict[str, Any], source: str = "<dict>") -> JointLayout:
    """Build a layout from its YAML/dict form; errors name the source and the key."""
    if not isinstance(d, dict):
        raise ValueError(f"{source}: a layout must be a mapping")
    for key in ("name", "joints"):
        if key not in d:
            raise ValueError(f"{source}: layout is missing key {key!r}")
    joints = d["joints"]
    if not isinstance(joints, list) or not joints:
        raise ValueError(f"{source}: 'joints' must be a non-empty list")
    names: list[str] = []
    parent_refs: list[Any] = []
    for i, j in enumerate(joints):
        if not isinstance(j, dict) or "name" not in j:
            raise ValueError(f"{source}: joints[{i}] must be a mapping with 'name' (and 'parent')")
        names.append(str(j["name"]))
        parent_refs.append(j.get("parent", j["name"]))

    def resolve(ref: Any, where: str) -> int:
        if isinstance(ref, int) and not isinstance(ref, bool):
            return ref
        if isinstance(ref, str) and ref in names:
            return names.index(ref)
        raise ValueError(f"{source}: {where} refers to unknown joint {ref!r}")

    parents = tuple(resolve(r, f"joints[{i}].parent") for i, r in enumerate(parent_refs))
    center = resolve(d.get("center", 0), "center")
    extra = tuple(
        (resolve(a, f"extra_edges[{k}]"), resolve(b, f"extra_edges[{k}]"))
        for k, (a, b) in enumerate(d.get("extra_edges", []) or [])
    )
    try:
        return JointLayout(
            name=str(d["name"]),
            names=tuple(names),
            parents=parents,
            center=center,
            description=str(d.get("description", "")),
            extra_edges=extra,
        )
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None


def load_layout_file(path: str | Path) -> JointLayout:
    """Read a layout declared in a YAML file."""
    path = Path(path)
    try:
        d = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: invalid YAML: {e}".replace("\n", " ")) from None
    return layout_from_dict(d, source=str(path))


def register_layout(layout: JointLayout, overwrite: bool = False) -> JointLayout:
    """Add a layout to the registry (``overwrite`` replaces one of the same name)."""
    existing = _REGISTRY.get(layout.name)
    if existing is not None and existing != layout and not overwrite:
        raise ValueError(f"a different layout named {layout.name!r} is already registered")
    _REGISTRY[layout.name] = layout
    return layout


def get_layout(name_or_layout: "str | JointLayout | dict") -> JointLayout:
    """Look up a registered layout by name (a layout or a layout dict passes through)."""
    if isinstance(name_or_layout, JointLayout):
        return name_or_layout
    if isinstance(name_or_layout, dict):
        return layout_from_dict(name_or_layout)
    try:
        return _REGISTRY[name_or_layout]
    except KeyError:
        raise KeyError(f"unknown joint layout {name_or_layout!r}; known: {', '.join(list_layouts())}") from None


def list_layouts() -> list[str]:
    """Sorted names of the registered joint layouts."""
    return sorted(_REGISTRY)


for _p in sorted(_BUNDLED_DIR.glob("*.yaml")):
    register_layout(load_layout_file(_p))
