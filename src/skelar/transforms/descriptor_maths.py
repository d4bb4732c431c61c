"""The four descriptor matrices (GD, JDD, ADD, LAD) of a skeleton sequence, vectorised over frames.

Every function takes the bodies as ``(B, T, V, 3)`` float64 positions (B = 1 or 2) and returns the matrix
before scaling, rows stacked body after body (reference-notes §4.2). ``faithful=True`` reproduces the
released code of adjkamel/imdar including its slips (listed in the descriptor spec and docs/models.md);
``faithful=False`` is the corrected maths. The arithmetic follows the reference's operation order so that
the ``floor`` of the 0-255 scaling lands on the same integers.
"""

from __future__ import annotations

import math

import numpy as np

from skelar.transforms.descriptor_spec import DescriptorSpec

__all__ = ["graph_matrix", "joint_distance_matrix", "displacement_matrix", "limb_angle_matrix", "scale_to_255", "normalised_adjacency"]

# acos of every cosine the reference can produce after rounding to 2 decimals (k / 100, k = -100..100)
_ACOS_2DP = np.array([math.acos(k / 100) for k in range(-100, 101)])


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance over the last axis, summed x, y, z in that order (as the reference)."""
    d = a - b
    return np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2])


_ADJ_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _adjacency(spec: DescriptorSpec) -> tuple[np.ndarray, np.ndarray]:
    """:func:`normalised_adjacency` in float64 and float32, computed once per edge set."""
    key = (spec.num_joints, spec.graph_edges)
    if key not in _ADJ_CACHE:
        a = normalised_adjacency(spec)
        _ADJ_CACHE[key] = (a, a.astype(np.float32))
    return _ADJ_CACHE[key]


def normalised_adjacency(spec: DescriptorSpec) -> np.ndarray:
    """``D^-1 (A + I)`` (row-normalised) of the spec's graph edges, float64 ``(V, V)``."""
    v = spec.num_joints
    a = np.zeros((v, v))
    for i, j in spec.graph_edges:
        a[i, j] = a[j, i] = 1.0
    a += np.eye(v)
    return a * (1.0 / a.sum(1))[:, None]


def graph_matrix(bodies: np.ndarray, spec: DescriptorSpec, faithful: bool) -> np.ndarray:
    """GD: ``(B*V, T, 3)``, entry ``[j, t, c] = sum_i P[t, i, c] * A_hat[i, j]``.

    Faithful: computed in float32 (the reference's torch matmul) and frame 0 left zero.
    """
    b, t, v, _ = bodies.shape
    adj, adj32 = _adjacency(spec)
    if faithful:
        # torch only here: the faithful variant needs the reference's float32 matmul bit for bit, and the
        # transforms must stay importable without torch (`skelar predict --onnx` runs without it)
        import torch

        p = torch.from_numpy(np.ascontiguousarray(bodies.transpose(0, 1, 3, 2), dtype=np.float32))  # (B, T, 3, V)
        f = torch.matmul(p, torch.from_numpy(adj32)).numpy().astype(np.float64)
        f[:, 0] = 0.0
    else:
        f = bodies.transpose(0, 1, 3, 2) @ adj
    return np.ascontiguousarray(f.transpose(0, 3, 1, 2).reshape(b * v, t, 3))  # (B, T, 3, V) -> (B*V, T, 3)


def _normaliser(body: np.ndarray, bones: tuple[tuple[int, int], ...], faithful: bool) -> float:
    """Sum of bone lengths at frame 0 (corrected: the first frame where the body is present); 1 if 0."""
    frame = 0
    if not faithful:
        present = np.flatnonzero(np.abs(body).reshape(body.shape[0], -1).max(1) > 0)
        frame = int(present[0]) if len(present) else 0
    idx = np.asarray(bones)
    total = float(np.cumsum(_dist(body[frame, idx[:, 0]], body[frame, idx[:, 1]]))[-1])  # sequential sum
    return total if total != 0 else 1.0


def joint_distance_matrix(bodies: np.ndarray, spec: DescriptorSpec, faithful: bool) -> np.ndarray:
    """JDD: ``(B*P, T)`` distances of the spec's joint pairs over the body-size normaliser."""
    pairs = np.asarray(spec.jdd_pairs)
    blocks = []
    for k, body in enumerate(bodies):
        second = body[:, pairs[:, 1]].copy()  # (T, P, 3)
        if faithful:
            for row, joint in spec.jdd_z_from.items():
                second[:, row, 2] = body[:, joint, 2]
        d = _dist(body[:, pairs[:, 0]], second)  # (T, P)
        norm = _normaliser(body, spec.faithful_bones if faithful else spec.bones, faithful)
        scaled = d / norm
        if faithful and spec.jdd_unnormalised:
            rows = list(spec.jdd_unnormalised)
            scaled[:, rows] = d[:, rows]
        block = scaled.T.copy()
        if faithful and k == 1:
            for row, src in spec.jdd_second_body_rows.items():
                block[row] = 0.0 if src is None else scaled[:, src]
        blocks.append(block)
    return np.concatenate(blocks, axis=0)


def displacement_matrix(bodies: np.ndarray) -> np.ndarray:
    """ADD: ``(B*V, T-1)`` per-joint displacement between consecutive frames."""
    d = _dist(bodies[:, :-1], bodies[:, 1:])  # (B, T-1, V)
    b, t1, v = d.shape
    return np.ascontiguousarray(d.transpose(0, 2, 1).reshape(b * v, t1))


def _round_2dp_index(c: np.ndarray) -> np.ndarray:
    """``round(c, 2) * 100`` as Python's ``round`` (half-even on the exact binary value), as integers."""
    scaled = c * 100.0
    k = np.rint(scaled)
    near_tie = np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < 1e-6
    if near_tie.any():
        k[near_tie] = [round(float(x), 2) * 100 for x in c[near_tie]]
        k[near_tie] = np.rint(k[near_tie])
    return k.astype(np.int64)


def limb_angle_matrix(bodies: np.ndarray, spec: DescriptorSpec, faithful: bool) -> np.ndarray:
    """LAD: ``(B*A, T)`` angle at each triplet's vertex by the law of cosines (0 when a side is 0).

    Faithful: the cosine is rounded to 2 decimals before ``acos`` and, with two bodies, the spec's
    ``lad_two_body_triplets`` replace their rows for both bodies.
    """
    trip = np.asarray(spec.lad_triplets).copy()
    if faithful and len(bodies) > 1:
        for row, t in spec.lad_two_body_triplets.items():
            trip[row] = t
    p1, p2, p3 = bodies[:, :, trip[:, 0]], bodies[:, :, trip[:, 1]], bodies[:, :, trip[:, 2]]  # (B, T, A, 3)
    ab, ac, bc = _dist(p2, p1), _dist(p3, p1), _dist(p3, p2)
    degenerate = (ab == 0) | (ac == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = (ab**2 + ac**2 - bc**2) / (2 * ab * ac)
    cos = np.where(degenerate, 1.0, cos)
    if faithful:
        k = np.clip(_round_2dp_index(cos), -100, 100)
        ang = _ACOS_2DP[k + 100]
    else:
        ang = np.arccos(np.clip(cos, -1.0, 1.0))
    ang = np.where(degenerate, 0.0, ang)
    b, t, a = ang.shape
    return np.ascontiguousarray(ang.transpose(0, 2, 1).reshape(b * a, t))


def scale_to_255(m: np.ndarray, per_channel: bool = False) -> np.ndarray:
    """``floor(255 * (m - min) / (max - min))`` as uint8 (per last-axis channel if ``per_channel``).

    A constant matrix (max == min), where the reference divides 0 by 0, gives zeros; an empty one stays empty.
    """
    if m.size == 0:
        return m.astype(np.uint8)
    flat = m.reshape(-1, m.shape[-1]) if per_channel else m.reshape(-1)
    lo, hi = flat.min(axis=0), flat.max(axis=0)
    span = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.floor(255 * (m - lo) / span)
    out = np.where(span > 0, out, 0.0)
    return out.astype(np.uint8)
