"""The layout file schema: read and validate a layout from YAML or a mapping; every error names the source and the key.

Two forms are accepted (documented in docs/data.md, "Joint layouts")::

    name: my20                       # required
    description: ...                 # optional
    joints:                          # form 1: one entry per joint, in data order
      - {name: HipCenter, parent: HipCenter}     # a root is its own parent (or has no parent)
      - {name: Spine, parent: HipCenter}
    # form 2 instead of 'joints':
    names: [HipCenter, Spine, ...]
    parents: [-1, 0, ...]            # parent names or 0-based indices; -1, null or the joint itself = root
    center: Spine                    # joint name or index used as origin by centring (default: the root)
    left_right: [[ShoulderLeft, ShoulderRight], ...]   # optional mirror pairs (left first)
    extra_edges: [[HandLeft, HandRight]]               # optional graph edges beyond the tree
    coordinates: {up: +y, units: m}                    # optional convention (up: one of +x -x +y -y +z -z)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


from skelar.layouts.layout import Coordinates, JointLayout
from skelar.yaml_file import read_yaml

__all__ = ["LAYOUT_KEYS", "layout_from_dict", "load_layout_file"]

LAYOUT_KEYS = ("name", "description", "joints", "names", "parents", "center", "left_right", "extra_edges", "coordinates")


def _names_and_parents(d: dict[str, Any], source: str) -> tuple[list[str], list[Any]]:
    if "joints" in d and ("names" in d or "parents" in d):
        raise ValueError(f"{source}: give either 'joints' or 'names' + 'parents', not both")
    if "joints" in d:
        joints = d["joints"]
        if not isinstance(joints, list) or not joints:
            raise ValueError(f"{source}: key 'joints' must be a non-empty list")
        names, refs = [], []
        for i, j in enumerate(joints):
            if not isinstance(j, dict) or "name" not in j or set(j) - {"name", "parent"}:
                raise ValueError(f"{source}: key 'joints[{i}]' must be a mapping {{name, parent}}")
            names.append(str(j["name"]))
            refs.append(j.get("parent", j["name"]))
        return names, refs
    if "names" not in d or "parents" not in d:
        raise ValueError(f"{source}: layout is missing key 'joints' (or the pair 'names' + 'parents')")
    names, parents = d["names"], d["parents"]
    if not isinstance(names, list) or not names:
        raise ValueError(f"{source}: key 'names' must be a non-empty list of joint names")
    if not isinstance(parents, list) or len(parents) != len(names):
        raise ValueError(f"{source}: key 'parents' must be a list with one entry per name ({len(names)})")
    names = [str(n) for n in names]
    refs = [names[i] if p is None or p == -1 else p for i, p in enumerate(parents)]
    return names, refs


def _resolver(names: list[str], source: str):
    def resolve(ref: Any, key: str) -> int:
        if isinstance(ref, int) and not isinstance(ref, bool):
            if not 0 <= ref < len(names):
                raise ValueError(f"{source}: {key}: index {ref} is outside 0..{len(names) - 1}")
            return ref
        if isinstance(ref, str) and ref in names:
            return names.index(ref)
        raise ValueError(f"{source}: {key} refers to unknown joint {ref!r}")

    return resolve


def _pairs(d: dict[str, Any], key: str, resolve, source: str) -> tuple[tuple[int, int], ...]:
    value = d.get(key) or []
    if not isinstance(value, list):
        raise ValueError(f"{source}: key {key!r} must be a list of [joint, joint] pairs")
    out = []
    for k, pair in enumerate(value):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"{source}: key '{key}[{k}]' must be a pair [joint, joint], got {pair!r}")
        out.append((resolve(pair[0], f"{key}[{k}]"), resolve(pair[1], f"{key}[{k}]")))
    return tuple(out)


def _coordinates(value: Any, source: str) -> Coordinates:
    if value is None:
        return Coordinates()
    if not isinstance(value, dict) or set(value) - {"up", "units"}:
        raise ValueError(f"{source}: key 'coordinates' must be a mapping with 'up' and/or 'units'")
    try:
        return Coordinates(up=str(value.get("up") or ""), units=str(value.get("units") or ""))
    except ValueError as e:
        raise ValueError(f"{source}: key 'coordinates': {e}") from None


def layout_from_dict(d: dict[str, Any], source: str = "<dict>") -> JointLayout:
    """Build a layout from its YAML/dict form (see the module docstring); errors name the source and the key."""
    if not isinstance(d, dict):
        raise ValueError(f"{source}: a layout must be a mapping")
    unknown = sorted(set(d) - set(LAYOUT_KEYS))
    if unknown:
        raise ValueError(f"{source}: key {unknown[0]!r} is not a layout key (allowed: {', '.join(LAYOUT_KEYS)})")
    if "name" not in d or not isinstance(d["name"], str) or not d["name"]:
        raise ValueError(f"{source}: layout is missing key 'name' (a non-empty string)")
    names, refs = _names_and_parents(d, source)
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"{source}: joint name {dup!r} appears twice")
    resolve = _resolver(names, source)
    parents = tuple(resolve(r, f"parents[{i}]" if "names" in d else f"joints[{i}].parent") for i, r in enumerate(refs))
    roots = [v for v, p in enumerate(parents) if v == p]
    center = resolve(d["center"], "center") if d.get("center") is not None else (roots[0] if roots else 0)
    try:
        return JointLayout(
            name=d["name"],
            names=tuple(names),
            parents=parents,
            center=center,
            description=str(d.get("description") or ""),
            extra_edges=_pairs(d, "extra_edges", resolve, source),
            left_right=_pairs(d, "left_right", resolve, source),
            coordinates=_coordinates(d.get("coordinates"), source),
        )
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None


def load_layout_file(path: str | Path) -> JointLayout:
    """Read a layout declared in a YAML file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"layout file not found: {path}")
    return layout_from_dict(read_yaml(path), source=str(path))
