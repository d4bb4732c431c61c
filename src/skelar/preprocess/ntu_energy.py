"""NTU pipeline B: "energy + pre-normalisation" (ST-GCN, 2s-AGCN, AS-GCN, LTSCL, mmaction2's raw converter).

1. Bodies are taken by their *position in each frame's list* (up to 4 slots), not by tracking id.
2. The 2 slots with the highest "energy" (sum over x, y, z of the standard deviation over the
   slot's non-empty frames) are kept, highest first.
3. ``pre_normalization``: optionally (2s-AGCN) move a person's leading empty frames away and fill
   trailing empty frames by repetition; subtract person 0's joint 1 (SpineMid) *per frame* from every
   person (zeros stay zero); rotate so person 0's spine (joint 0 -> 1) in frame 0 is parallel to +z,
   then so its shoulders (joint 8 -> 4) are parallel to +x.

AS-GCN and LTSCL (the fixture ``asgcn_ntu``) run step 3 *without* the padding step
(``pad_null_frames=False``, the default); 2s-AGCN / MS-G3D / Shift-GCN run it with the step
(``pad_null_frames=True``). Parsing is float64 in the references; the result is stored as float32
exactly as their ``(N, 3, 300, 25, 2)`` float32 buffers hold it.
"""

from __future__ import annotations

import math

import numpy as np

from skelar.formats.ntu_skeleton import NtuSkeleton
from skelar.preprocess.padding import repeat_pad_persons

__all__ = [
    "MAX_SLOTS",
    "slot_array",
    "slot_energy",
    "read_energy_bodies",
    "axis_angle_matrix",
    "pre_normalize",
    "energy_pipeline",
]

MAX_SLOTS = 4  # Kinect bodies read per frame (max_body_kinect)


def slot_array(ske: NtuSkeleton, max_slots: int = MAX_SLOTS) -> np.ndarray:
    """``(max_slots, T, 25, 3)`` float64 xyz, body ``b`` of frame ``t`` in slot ``b`` (empty slots zero)."""
    out = np.zeros((max_slots, ske.num_frames, ske.joints.shape[1], 3), np.float64)
    keep = ske.slot < max_slots
    out[ske.slot[keep], ske.frame_index[keep]] = ske.joints[keep, :, :3]
    return out


def slot_energy(slots: np.ndarray) -> np.ndarray:
    """Energy per slot: ``std(x) + std(y) + std(z)`` over the joints of its non-empty frames (0 if none)."""
    energy = np.zeros(len(slots), np.float64)
    for k, s in enumerate(slots):
        s = s[s.sum(-1).sum(-1) != 0]
        if len(s):
            energy[k] = s[:, :, 0].std() + s[:, :, 1].std() + s[:, :, 2].std()
    return energy


def read_energy_bodies(ske: NtuSkeleton, num_bodies: int = 2, max_slots: int = MAX_SLOTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The references' ``read_xyz``: ``(3, T, 25, num_bodies)`` float64, the slot energies and the kept slots."""
    slots = slot_array(ske, max_slots)
    energy = slot_energy(slots)
    keep = energy.argsort()[::-1][:num_bodies]
    return slots[keep].transpose(3, 1, 2, 0), energy, keep


def _angle_to(v: np.ndarray, target: list[int]) -> float:
    """Angle between ``v`` and a unit axis (0 when either is ~zero), as the references compute it."""
    if np.abs(v).sum() < 1e-6:
        return 0.0
    v_u = v / np.linalg.norm(v)
    t = np.asarray(target, np.float64)
    return float(np.arccos(np.clip(np.dot(v_u, t / np.linalg.norm(t)), -1.0, 1.0)))


def axis_angle_matrix(axis: np.ndarray, theta: float) -> np.ndarray:
    """Rotation by ``theta`` about ``axis`` (Euler–Rodrigues form); identity for a ~zero axis or angle."""
    axis = np.asarray(axis, dtype=np.float64)
    if np.abs(axis).sum() < 1e-6 or abs(theta) < 1e-6:
        return np.eye(3)
    axis = axis / math.sqrt(np.dot(axis, axis))
    a = math.cos(theta / 2.0)
    b, c, d = -axis * math.sin(theta / 2.0)
    aa, bb, cc, dd = a * a, b * b, c * c, d * d
    bc, ad, ac, ab, bd, cd = b * c, a * d, a * c, a * b, b * d, c * d
    return np.array([
        [aa + bb - cc - dd, 2 * (bc + ad), 2 * (bd - ac)],
        [2 * (bc - ad), aa + cc - bb - dd, 2 * (cd + ab)],
        [2 * (bd + ac), 2 * (cd - ab), aa + dd - bb - cc],
    ])


def _rotate_nonempty(s: np.ndarray, matrix: np.ndarray) -> None:
    """Rotate (in place, float64 maths, stored back in ``s.dtype``) every non-empty frame of every present person."""
    for p in range(s.shape[0]):
        person = s[p]
        if person.sum() == 0:
            continue
        frames = np.flatnonzero(person.sum(axis=(1, 2)) != 0)
        j = person[frames].astype(np.float64)  # (F, V, 3)
        rotated = (
            matrix[None, None, :, 0] * j[..., 0:1] + matrix[None, None, :, 1] * j[..., 1:2] + matrix[None, None, :, 2] * j[..., 2:3]
        )
        person[frames] = rotated


def pre_normalize(
    x: np.ndarray,
    zaxis: tuple[int, int] = (0, 1),
    xaxis: tuple[int, int] = (8, 4),
    center_joint: int = 1,
    pad_null_frames: bool = False,
) -> np.ndarray:
    """``pre_normalization`` of one ``(3, T, V, M)`` sample; returns float32 ``(3, T, V, M)``.

    ``pad_null_frames=True`` adds 2s-AGCN's first step (see :func:`~skelar.preprocess.padding.repeat_pad_persons`).
    Person 0's joint ``center_joint`` is subtracted per frame from all persons (joints that are
    exactly zero stay zero; where person 0 is absent nothing is subtracted). The two rotations are
    computed once from frame 0 of person 0 and applied to every non-empty frame.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4 or x.shape[0] != 3:
        raise ValueError(f"pre_normalize expects (3, T, V, M), got shape {x.shape}")
    if pad_null_frames:
        x = repeat_pad_persons(x)
    s = np.ascontiguousarray(x.transpose(3, 1, 2, 0))  # (M, T, V, 3)
    if s.sum() == 0:
        return x.copy()
    center = s[0][:, center_joint : center_joint + 1, :].copy()
    for p in range(s.shape[0]):
        if s[p].sum() == 0:
            continue
        mask = (s[p].sum(-1) != 0)[..., None]
        s[p] = (s[p] - center) * mask
    # as in the references: spine vector = joint zaxis[1] - joint zaxis[0], shoulder vector = xaxis[0] - xaxis[1]
    for v_ends, target in (((zaxis[1], zaxis[0]), [0, 0, 1]), ((xaxis[0], xaxis[1]), [1, 0, 0])):
        v = s[0, 0, v_ends[0]] - s[0, 0, v_ends[1]]
        matrix = axis_angle_matrix(np.cross(v, target), _angle_to(v, target))
        _rotate_nonempty(s, matrix)
    return np.ascontiguousarray(s.transpose(3, 1, 2, 0))


def energy_pipeline(
    ske: NtuSkeleton,
    max_frames: int = 300,
    num_bodies: int = 2,
    pad_null_frames: bool = False,
) -> np.ndarray:
    """Pipeline B on one parsed file: ``(3, T, 25, num_bodies)`` float32.

    ``T`` is the file's frame count (empty frames kept as zero frames) cut to ``max_frames``; with
    ``pad_null_frames`` the sample is padded to ``max_frames`` first, as in 2s-AGCN, and ``T = max_frames``.
    """
    data, _, _ = read_energy_bodies(ske, num_bodies)
    data = data[:, :max_frames].astype(np.float32)
    if pad_null_frames and data.shape[1] < max_frames:
        C, T, V, M = data.shape
        data = np.concatenate([data, np.zeros((C, max_frames - T, V, M), np.float32)], axis=1)
    return pre_normalize(data, pad_null_frames=pad_null_frames)
