"""Which joints the descriptor images use: graph edges, bones, joint pairs and limb-angle triplets.

The sets are data. ``ntu25`` and ``ucla20`` ship the exact sets of adjkamel/imdar
(``skelar/layouts/descriptors/<layout>.yaml``); a YAML file of the same form can be given for any layout.
For other layouts the sets are derived from the layout's parents (:func:`derive_spec`):

* graph edges: the layout's edges (tree plus declared extra edges);
* bones: every ``(joint, parent)`` of the tree;
* limb angles: at every non-root joint ``v``, the angle between each child of ``v`` and the parent of ``v``;
  at a root, the angle between each pair of consecutive children;
* joint pairs: every pair, at tree distance >= 2, among the extremities (the leaves of the tree)
  and the joints two bones above a leaf (elbows, knees), which is the kind of pair the reference picked.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from skelar.layouts import JointLayout, get_layout
from skelar.yaml_file import read_yaml

__all__ = ["DescriptorSpec", "descriptor_spec", "derive_spec", "load_descriptor_spec", "spec_from_dict"]

_BUNDLED = Path(__file__).resolve().parent.parent / "layouts" / "descriptors"

Pair = tuple[int, int]
Triplet = tuple[int, int, int]


@dataclass(frozen=True)
class DescriptorSpec:
    """Joint sets of the GD, JDD and LAD images for one layout, plus the reference's slips (``faithful_*``)."""

    layout: str
    num_joints: int
    graph_edges: tuple[Pair, ...]
    bones: tuple[Pair, ...]
    jdd_pairs: tuple[Pair, ...]
    lad_triplets: tuple[Triplet, ...]
    faithful_bones: tuple[Pair, ...] = ()
    jdd_z_from: dict[int, int] = field(default_factory=dict)
    jdd_unnormalised: tuple[int, ...] = ()
    jdd_second_body_rows: dict[int, int | None] = field(default_factory=dict)
    lad_two_body_triplets: dict[int, Triplet] = field(default_factory=dict)
    source: str = "derived"


def _tuples(value: Any, n: int, key: str, source: str, num_joints: int) -> tuple[tuple[int, ...], ...]:
    if not isinstance(value, list):
        raise ValueError(f"{source}: '{key}' must be a list of {n}-element joint lists")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, list) or len(item) != n or not all(isinstance(j, int) and not isinstance(j, bool) for j in item):
            raise ValueError(f"{source}: {key}[{i}] must be a list of {n} joint indices, got {item!r}")
        bad = [j for j in item if not 0 <= j < num_joints]
        if bad:
            raise ValueError(f"{source}: {key}[{i}] has joint index {bad[0]} outside 0..{num_joints - 1}")
        out.append(tuple(item))
    return tuple(out)


def _row_map(value: Any, key: str, source: str, rows: int, allow_none: bool = False) -> dict[int, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{source}: faithful.{key} must be a mapping of row -> value")
    for r, v in value.items():
        if not isinstance(r, int) or not 0 <= r < rows:
            raise ValueError(f"{source}: faithful.{key}: row {r!r} outside 0..{rows - 1}")
        if v is None and not allow_none:
            raise ValueError(f"{source}: faithful.{key}.{r} must not be empty")
    return dict(value)


def spec_from_dict(d: Any, layout: JointLayout, source: str = "<dict>") -> DescriptorSpec:
    """Validate a descriptor-spec mapping (the YAML form) against ``layout``; errors name the key."""
    if not isinstance(d, dict):
        raise ValueError(f"{source}: a descriptor spec must be a mapping")
    if d.get("layout", layout.name) != layout.name:
        raise ValueError(f"{source}: spec is for layout {d['layout']!r}, the data's layout is {layout.name!r}")
    v = layout.num_joints
    for key in ("graph_edges", "bones", "jdd_pairs", "lad_triplets"):
        if key not in d:
            raise ValueError(f"{source}: descriptor spec is missing key {key!r}")
        if not d[key]:
            raise ValueError(f"{source}: '{key}' must not be empty")
    pairs = _tuples(d["jdd_pairs"], 2, "jdd_pairs", source, v)
    triplets = _tuples(d["lad_triplets"], 3, "lad_triplets", source, v)
    bones = _tuples(d["bones"], 2, "bones", source, v)
    f = d.get("faithful") or {}
    if not isinstance(f, dict):
        raise ValueError(f"{source}: 'faithful' must be a mapping")
    z_from = _row_map(f.get("jdd_z_from"), "jdd_z_from", source, len(pairs))
    second = _row_map(f.get("jdd_second_body_rows"), "jdd_second_body_rows", source, len(pairs), allow_none=True)
    lad2 = _row_map(f.get("lad_two_body_triplets"), "lad_two_body_triplets", source, len(triplets))
    unnorm = f.get("jdd_unnormalised") or []
    if not isinstance(unnorm, list) or not all(isinstance(r, int) and 0 <= r < len(pairs) for r in unnorm):
        raise ValueError(f"{source}: faithful.jdd_unnormalised must list rows in 0..{len(pairs) - 1}")
    return DescriptorSpec(
        layout=layout.name,
        num_joints=v,
        graph_edges=_tuples(d["graph_edges"], 2, "graph_edges", source, v),  # type: ignore[arg-type]
        bones=bones,  # type: ignore[arg-type]
        jdd_pairs=pairs,  # type: ignore[arg-type]
        lad_triplets=triplets,  # type: ignore[arg-type]
        faithful_bones=_tuples(f["bones"], 2, "faithful.bones", source, v) if "bones" in f else bones,  # type: ignore[arg-type]
        jdd_z_from={int(r): int(j) for r, j in z_from.items()},
        jdd_unnormalised=tuple(unnorm),
        jdd_second_body_rows={int(r): (None if s is None else int(s)) for r, s in second.items()},
        lad_two_body_triplets={int(r): tuple(_tuples([t], 3, f"faithful.lad_two_body_triplets.{r}", source, v)[0]) for r, t in lad2.items()},  # type: ignore[misc]
        source=source,
    )


def load_descriptor_spec(path: str | Path, layout: str | JointLayout) -> DescriptorSpec:
    """Read a descriptor spec YAML file for ``layout``."""
    path = Path(path)
    try:
        d = read_yaml(path)
    except OSError as e:
        raise ValueError(f"{path}: cannot read descriptor spec ({e.strerror})") from None
    return spec_from_dict(d, get_layout(layout), source=str(path))


def _tree_distances(layout: JointLayout) -> list[list[int]]:
    n = layout.num_joints
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for c, p in enumerate(layout.parents):
        if c != p:
            nbrs[c].append(p)
            nbrs[p].append(c)
    dist = []
    for s in range(n):
        d = [-1] * n
        d[s] = 0
        q = deque([s])
        while q:
            u = q.popleft()
            for w in nbrs[u]:
                if d[w] < 0:
                    d[w] = d[u] + 1
                    q.append(w)
        dist.append(d)
    return dist


def derive_spec(layout: str | JointLayout) -> DescriptorSpec:
    """Joint sets for a layout the reference never saw, from its parents (rules in the module docstring)."""
    lay = get_layout(layout)
    n, parents = lay.num_joints, lay.parents
    children: list[list[int]] = [[] for _ in range(n)]
    for c, p in enumerate(parents):
        if c != p:
            children[p].append(c)
    bones = tuple((c, p) for c, p in enumerate(parents) if c != p)
    if not bones:
        raise ValueError(f"layout {lay.name!r}: descriptors need at least one bone")
    triplets: list[Triplet] = []
    for v in range(n):
        if parents[v] != v:
            triplets += [(v, c, parents[v]) for c in children[v]]
        else:
            triplets += [(v, a, b) for a, b in zip(children[v], children[v][1:])]
    if not triplets:
        triplets = [(parents[c], c, c) for c, _ in bones[:1]]  # a chain of two joints: one (always zero) angle
    leaves = [v for v in range(n) if parents[v] != v and not children[v]]
    ends = set(leaves)
    for v in leaves:
        gp = parents[parents[v]]
        if parents[v] != v and gp != parents[v]:
            ends.add(gp)
    dist = _tree_distances(lay)
    ordered = sorted(ends)
    pairs = tuple((a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :] if dist[a][b] >= 2)
    if not pairs:
        pairs = bones
    return DescriptorSpec(lay.name, n, tuple(lay.edges), bones, pairs, tuple(triplets), faithful_bones=bones, source="derived")


def descriptor_spec(layout: str | JointLayout, spec: str | Path | None = None) -> DescriptorSpec:
    """The spec for ``layout``: ``spec`` (a YAML path) if given, else the bundled file, else derived."""
    lay = get_layout(layout)
    if spec is not None:
        return load_descriptor_spec(spec, lay)
    bundled = _BUNDLED / f"{lay.name}.yaml"
    if bundled.is_file():
        return load_descriptor_spec(bundled, lay)
    return derive_spec(lay)
