"""Skeleton graphs for graph-convolutional models, built from a :class:`~skelar.layouts.JointLayout`.

CTR-GCN (and ST-GCN/2s-AGCN before it) use the *spatial* labelling: three ``(V, V)`` matrices

* ``A[0]`` — identity (each joint with itself);
* ``A[1]`` — inward edges ``child → parent``, column-normalised;
* ``A[2]`` — outward edges ``parent → child``, column-normalised.

Entry ``A[k, u, v]`` is the weight joint ``v`` sends to joint ``u`` (the GCN computes
``y[..., u] = Σ_v A[k, u, v] x[..., v]``). The inward edges are the layout's tree edges, i.e. its
bone pairs without the root's self-pair; ``extra_edges`` of a layout carry no direction and are not
used here.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from skelar.layouts import JointLayout, get_layout

__all__ = ["edge_matrix", "normalize_digraph", "inward_edges", "spatial_graph", "hop_distance", "hop_spatial_graph"]


def edge_matrix(edges: Iterable[tuple[int, int]], num_nodes: int) -> np.ndarray:
    """0/1 matrix with ``A[j, i] = 1`` for every directed edge ``(i, j)`` (i sends to j)."""
    a = np.zeros((num_nodes, num_nodes), dtype=np.float64)
    for i, j in edges:
        if not (0 <= i < num_nodes and 0 <= j < num_nodes):
            raise ValueError(f"edge ({i}, {j}) out of range for a graph of {num_nodes} nodes")
        a[j, i] = 1.0
    return a


def normalize_digraph(a: np.ndarray) -> np.ndarray:
    """Divide each column by its sum (columns summing to 0 stay 0): ``A · D⁻¹`` with ``D = diag(colsum)``."""
    col = a.sum(axis=0)
    inv = np.divide(1.0, col, out=np.zeros_like(col), where=col > 0)
    return a * inv[None, :]


def inward_edges(layout: "str | JointLayout") -> list[tuple[int, int]]:
    """``(child, parent)`` for every non-root joint of the layout."""
    lay = get_layout(layout)
    return [(v, p) for v, p in enumerate(lay.parents) if v != p]


def spatial_graph(layout: "str | JointLayout") -> np.ndarray:
    """CTR-GCN's ``Graph(labeling_mode='spatial').A`` for ``layout``: float32 array ``(3, V, V)``."""
    lay = get_layout(layout)
    v = lay.num_joints
    inward = inward_edges(lay)
    outward = [(p, c) for c, p in inward]
    identity = edge_matrix([(i, i) for i in range(v)], v)
    a = np.stack([identity, normalize_digraph(edge_matrix(inward, v)), normalize_digraph(edge_matrix(outward, v))])
    return a.astype(np.float32)


def hop_distance(edges: Iterable[tuple[int, int]], num_nodes: int, max_hop: int) -> np.ndarray:
    """Undirected hop distance between joints, ``inf`` beyond ``max_hop`` (ST-GCN's ``get_hop_distance``)."""
    adj = np.eye(num_nodes, dtype=bool)
    for i, j in edges:
        adj[i, j] = adj[j, i] = True
    dist = np.full((num_nodes, num_nodes), np.inf)
    reach = np.eye(num_nodes, dtype=bool)
    dist[reach] = 0
    for d in range(1, max_hop + 1):
        reach = (reach.astype(np.int64) @ adj.astype(np.int64)) > 0
        dist[reach & np.isinf(dist)] = d
    return dist


def hop_spatial_graph(layout: "str | JointLayout", max_hop: int = 4, center: int | None = None) -> np.ndarray:
    """ST-GCN / AS-GCN ``Graph(strategy='spatial', max_hop)``: float32 ``(1 + 2·max_hop, V, V)``.

    All joint pairs within ``max_hop`` hops form one column-normalised adjacency; its entries are split
    per hop ``h`` into "root + closer to the centre" and "further from the centre" (hop 0: the
    identity). ``center`` defaults to the layout's root (NTU-25: SpineShoulder, as in ST-GCN).
    """
    lay = get_layout(layout)
    v = lay.num_joints
    if center is None:
        center = next(j for j, p in enumerate(lay.parents) if j == p)
    dist = hop_distance(inward_edges(lay), v, max_hop)
    norm = normalize_digraph((dist <= max_hop).astype(np.float64))
    # entry [j, i]: joint i sends to joint j; compare both joints' distance to the centre
    to_center = dist[:, center]
    dj, di = to_center[:, None], to_center[None, :]
    mats = []
    for hop in range(max_hop + 1):
        at = dist == hop
        root = np.where(at & (dj == di), norm, 0.0)
        close = np.where(at & (dj > di), norm, 0.0)
        further = np.where(at & (dj < di), norm, 0.0)
        mats.extend([root] if hop == 0 else [root + close, further])
    return np.stack(mats).astype(np.float32)
