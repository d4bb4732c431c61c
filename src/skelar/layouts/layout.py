"""The :class:`JointLayout` value: joint names, parents, and the roles transforms refer to (centre, root, left/right)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["JointLayout", "Coordinates", "UP_AXES"]

UP_AXES = ("+x", "-x", "+y", "-y", "+z", "-z")
ROLES = ("center", "root")


@dataclass(frozen=True)
class Coordinates:
    """The coordinate convention of a layout's data: which axis points up and the unit (both optional, descriptive)."""

    up: str = ""
    units: str = ""

    def __post_init__(self) -> None:
        if self.up and self.up not in UP_AXES:
            raise ValueError(f"coordinates.up must be one of {', '.join(UP_AXES)}, got {self.up!r}")

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("up", self.up), ("units", self.units)) if v}


@dataclass(frozen=True)
class JointLayout:
    """A skeleton's joints: ``names[v]``, ``parents[v]`` (0-based, a root is its own parent), and joint roles.

    ``center`` is the joint centring transforms use as origin; ``left_right`` pairs ``(left, right)``
    are swapped by mirroring; ``extra_edges`` are graph edges beyond the tree.
    """

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    center: int = 0
    description: str = ""
    extra_edges: tuple[tuple[int, int], ...] = field(default=())
    left_right: tuple[tuple[int, int], ...] = field(default=())
    coordinates: Coordinates = field(default_factory=Coordinates)

    def __post_init__(self) -> None:
        n = len(self.names)
        if n == 0:
            raise ValueError(f"layout {self.name!r}: no joints")
        if len(self.parents) != n:
            raise ValueError(f"layout {self.name!r}: {len(self.parents)} parents for {n} joints")
        if len(set(self.names)) != n:
            dup = next(x for x in self.names if self.names.count(x) > 1)
            raise ValueError(f"layout {self.name!r}: joint name {dup!r} appears twice")
        for v, p in enumerate(self.parents):
            if not 0 <= p < n:
                raise ValueError(f"layout {self.name!r}: joint {self.names[v]!r} has parent index {p} out of range")
        if not 0 <= self.center < n:
            raise ValueError(f"layout {self.name!r}: center {self.center} out of range")
        if not self.roots:
            raise ValueError(f"layout {self.name!r}: no root (a joint that is its own parent)")
        for v in range(n):  # every joint must reach a root without cycles
            seen, u = set(), v
            while self.parents[u] != u:
                if u in seen:
                    raise ValueError(f"layout {self.name!r}: parent cycle through joint {self.names[v]!r}")
                seen.add(u)
                u = self.parents[u]
        for i, j in self.extra_edges:
            if not (0 <= i < n and 0 <= j < n) or i == j:
                raise ValueError(f"layout {self.name!r}: extra edge ({i}, {j}) is not a pair of two joints")
        used: set[int] = set()
        for left, right in self.left_right:
            if not (0 <= left < n and 0 <= right < n) or left == right:
                raise ValueError(f"layout {self.name!r}: left/right pair ({left}, {right}) is not a pair of two joints")
            for v in (left, right):
                if v in used:
                    raise ValueError(f"layout {self.name!r}: joint {self.names[v]!r} is in two left/right pairs")
                used.add(v)

    # -- structure -------------------------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def roots(self) -> list[int]:
        return [v for v, p in enumerate(self.parents) if v == p]

    @property
    def root(self) -> int:
        """The single root joint (a layout with several roots has no ``root`` role)."""
        if len(self.roots) != 1:
            raise ValueError(f"layout {self.name!r} has {len(self.roots)} roots, so the role 'root' is ambiguous; name a joint")
        return self.roots[0]

    @property
    def edges(self) -> list[tuple[int, int]]:
        """Undirected skeleton edges ``(child, parent)`` plus any declared extra edges."""
        tree = [(v, p) for v, p in enumerate(self.parents) if v != p]
        return tree + [e for e in self.extra_edges if e not in tree and e[::-1] not in tree]

    @property
    def bone_pairs(self) -> list[tuple[int, int]]:
        """``(joint, parent)`` for every joint, roots paired with themselves (zero bone)."""
        return list(enumerate(self.parents))

    @property
    def mirror_permutation(self) -> np.ndarray:
        """Joint order after a left/right mirror: every ``left_right`` pair swapped, other joints in place."""
        perm = np.arange(self.num_joints)
        for left, right in self.left_right:
            perm[left], perm[right] = right, left
        return perm

    def adjacency(self, self_loops: bool = False) -> np.ndarray:
        """Symmetric 0/1 adjacency matrix ``(V, V)``."""
        a = np.zeros((self.num_joints, self.num_joints), dtype=np.float32)
        for i, j in self.edges:
            a[i, j] = a[j, i] = 1.0
        if self_loops:
            a += np.eye(self.num_joints, dtype=np.float32)
        return a

    # -- referring to joints -----------------------------------------------------------------------
    def index(self, joint: str) -> int:
        """The index of the joint named ``joint`` (KeyError naming the layout otherwise)."""
        try:
            return self.names.index(joint)
        except ValueError:
            raise KeyError(f"layout {self.name!r} has no joint {joint!r}") from None

    def joint(self, ref: "str | int") -> int:
        """Index of a joint given by name, by role (``center``, ``root``) or by index into this layout."""
        if isinstance(ref, bool):
            raise ValueError(f"a joint is a name, a role ({', '.join(ROLES)}) or an index, not {ref!r}")
        if isinstance(ref, (int, np.integer)):
            if not 0 <= int(ref) < self.num_joints:
                raise ValueError(f"joint index {ref} is outside layout {self.name!r} (0..{self.num_joints - 1})")
            return int(ref)
        if ref in self.names:
            return self.names.index(ref)
        if ref == "center":
            return self.center
        if ref == "root":
            return self.root
        raise ValueError(f"layout {self.name!r} has no joint {ref!r} (roles: {', '.join(ROLES)}; joints: {', '.join(self.names)})")

    # -- comparison and serialisation ----------------------------------------------------------------
    def same_skeleton(self, other: "JointLayout") -> bool:
        """Same joints, parents, centre and extra edges (roles such as left/right may differ)."""
        return (self.names, self.parents, self.center, self.extra_edges) == (other.names, other.parents, other.center, other.extra_edges)

    def to_dict(self) -> dict[str, Any]:
        """The layout as plain values (what checkpoints and ``dataset.yaml`` record)."""
        d: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "center": self.names[self.center],
            "joints": [{"name": n, "parent": self.names[p]} for n, p in zip(self.names, self.parents)],
        }
        if self.extra_edges:
            d["extra_edges"] = [[self.names[i], self.names[j]] for i, j in self.extra_edges]
        if self.left_right:
            d["left_right"] = [[self.names[i], self.names[j]] for i, j in self.left_right]
        if self.coordinates.to_dict():
            d["coordinates"] = self.coordinates.to_dict()
        return d
