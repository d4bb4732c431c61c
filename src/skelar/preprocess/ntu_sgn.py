"""SGN's NTU RGB+D denoising pipeline (microsoft/SGN ``data/ntu/*.py``), re-implemented exactly.

Stages, each a function so tests can compare every intermediate result with the reference:

1. :func:`sgn_raw_bodies` - drop frames without bodies; group body entries by bodyID in order of
   first appearance. A body's frame indices are *counted* (first valid frame, then +1 per appearance),
   so a bodyID that vanishes and returns is shifted earlier in time, as in the reference.
   Motion (sum of per-axis variances of all its joints) is computed only when there are >1 bodyIDs.
2. :func:`sgn_denoise` - only with >1 bodyIDs: drop bodies of <= 11 frames; drop bodies whose frames
   are "flat" (x spread > 0.8 * y spread) in >= 69.754% of frames, else lower their motion to the
   motion of the non-flat frames; order by motion; assign to two actor slots by non-overlapping
   intervals; remove rows whose sum is 0. One remaining body gives ``(T, 75)``, else ``(T, 150)``.
3. :func:`sgn_translate` - subtract SpineMid of actor 1 in its first non-zero row from every joint;
   in ``(T, 150)`` arrays, rows where an actor was missing (row sum 0) are zeroed again.
4. :func:`sgn_to_canonical` - ``(3, T, 25, 2)`` float32 (actor 2 zero for ``(T, 75)``).

:func:`sgn_align` pads to the reference's ``(300, 150)`` (only for comparison; prepared datasets store
the unpadded sequences). The loader side (zero-row removal, two-to-one interleave, segment sampling,
rotation) lives in :mod:`skelar.transforms`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skelar.formats.ntu_skeleton import NtuSkeleton

__all__ = [
    "SGN_PARAMS",
    "SgnPipelineError",
    "SgnBody",
    "SgnRaw",
    "SgnResult",
    "sgn_raw_bodies",
    "sgn_denoise",
    "sgn_translate",
    "sgn_align",
    "sgn_to_canonical",
    "sgn_process",
    "sgn_sample",
]

SGN_PARAMS: dict[str, Any] = {
    "noise_len_thres": 11,  # bodies with <= this many frames are noise
    "noise_spr_thres1": 0.8,  # a frame is flat when x spread > 0.8 * y spread
    "noise_spr_thres2": 0.69754,  # a body is noise when >= this fraction of its frames is flat
    "origin_joint": 1,  # SpineMid (0-based) of actor 1 in its first non-zero frame
}


class SgnPipelineError(ValueError):
    """A recording the SGN pipeline cannot turn into a sample (the reference would crash on it)."""


@dataclass
class SgnBody:
    """All entries of one bodyID: ``joints (n, 25, 3)`` float32 and counted ``interval (n,)``."""

    body_id: str
    joints: np.ndarray
    interval: np.ndarray
    motion: float = float("nan")  # float32 value; NaN when the file has a single bodyID

    @property
    def start(self) -> int:
        return int(self.interval[0])

    @property
    def end(self) -> int:
        return int(self.interval[-1])


@dataclass
class SgnRaw:
    """Stage 1 output: bodies in first-appearance order, number of frames with a body, dropped frames."""

    name: str
    num_frames: int
    frames_drop: np.ndarray
    bodies: list[SgnBody]


@dataclass
class SgnResult:
    """Every stage of one recording; ``data`` is the final ``(3, T, 25, 2)`` float32 sample."""

    raw: SgnRaw
    denoised: np.ndarray
    translated: np.ndarray
    data: np.ndarray
    log: dict[str, Any] = field(default_factory=dict)


def _motions(bodies: list[np.ndarray]) -> list[np.float32]:
    """The reference's ``np.sum(np.var(joints, axis=0))`` of each body's ``(n*25, 3)`` float32 joints,
    bit for bit, all bodies in one go: NumPy's variance steps (sum, divide by the count, subtract,
    square, sum, divide) on the bodies side by side as columns of one zero-padded array. NumPy sums an
    ``(n, k)`` array over axis 0 row after row, so each column is summed exactly as on its own (the
    padding adds zeros; a -0.0 sum turning into +0.0 changes no variance)."""
    rows = [np.asarray(b, np.float32).reshape(-1, 3) for b in bodies]
    lengths = [len(r) for r in rows]
    side = np.zeros((max(lengths), 3 * len(rows)), np.float32)
    for k, r in enumerate(rows):
        side[: len(r), 3 * k : 3 * k + 3] = r
    count = np.repeat(np.asarray(lengths, np.intp), 3)
    mean = np.add.reduce(side, axis=0)
    np.true_divide(mean, count, out=mean, casting="unsafe")
    dev = np.subtract(side, mean)
    np.square(dev, out=dev)
    for k, n in enumerate(lengths):
        dev[n:, 3 * k : 3 * k + 3] = 0
    var = np.add.reduce(dev, axis=0)
    np.true_divide(var, count, out=var, casting="unsafe")
    return list(np.add.reduce(var.reshape(-1, 3), axis=1))  # = np.sum of each body's three variances


def _motion(joints: np.ndarray) -> np.float32:
    """The reference's motion of one body (see :func:`_motions`)."""
    return _motions([joints])[0]


def sgn_raw_bodies(ske: NtuSkeleton, name: str | None = None, motion: bool = True) -> SgnRaw:
    """Stage 1: group the body entries of a parsed file by bodyID (reference ``get_raw_bodies_data``).

    ``motion=False`` leaves the motions NaN: :func:`sgn_denoise` then computes those it needs (of the
    bodies that pass the length test), with the same values."""
    name = name or ske.path
    counts = np.asarray(ske.body_counts)
    frames_drop = np.flatnonzero(counts == 0).astype(np.int64)
    num_valid = int(len(counts) - len(frames_drop))
    if num_valid == 0:
        raise SgnPipelineError(f"{name}: no body in any of its {len(counts)} frames")
    valid_index = np.cumsum(counts > 0) - 1  # frame -> index among frames with a body
    ids = np.asarray(ske.body_id)
    xyz = ske.joints[:, :, :3]
    if (ids == ids[0]).all():  # the common case: one bodyID
        groups = [(ids[0], np.arange(len(ids)))]
    else:
        uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        groups = [(uniq[k], np.flatnonzero(inverse == k)) for k in np.argsort(first, kind="stable").tolist()]
    bodies = []
    for body_id, entries in groups:
        start = int(valid_index[ske.frame_index[entries[0]]])
        bodies.append(SgnBody(
            body_id=str(int(body_id)) if np.issubdtype(ids.dtype, np.integer) else str(body_id),
            joints=np.ascontiguousarray(xyz[entries], dtype=np.float32),
            interval=start + np.arange(len(entries), dtype=np.int64),
        ))
    if motion and len(bodies) > 1:
        for b, m in zip(bodies, _motions([b.joints for b in bodies])):
            b.motion = m
    return SgnRaw(name=name, num_frames=num_valid, frames_drop=frames_drop, bodies=bodies)


def _flat_frames(joints: np.ndarray, thres1: float) -> np.ndarray:
    """Per frame: is the x spread larger than ``thres1`` times the y spread (float32, as the reference)."""
    x, y = joints[:, :, 0], joints[:, :, 1]
    x_spread = x.max(axis=1) - x.min(axis=1)
    y_spread = y.max(axis=1) - y.min(axis=1)
    return ~(x_spread <= np.float32(thres1) * y_spread)


def _one_actor(body: SgnBody, num_frames: int) -> np.ndarray:
    out = np.zeros((num_frames, 75), np.float32)
    out[body.start : body.end + 1] = body.joints.reshape(-1, 75)
    return out


def _check_interval(body: SgnBody, num_frames: int, name: str) -> None:
    if body.end >= num_frames:
        raise SgnPipelineError(f"{name}: bodyID {body.body_id} is listed {len(body.interval)} times from frame "
                               f"{body.start}, more often than frames remain (repeated within a frame?)")


def sgn_denoise(raw: SgnRaw, params: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Stage 2 (reference ``get_raw_denoised_data``): ``(T, 75)`` or ``(T, 150)`` float32 and a log."""
    p = {**SGN_PARAMS, **(params or {})}
    n = raw.num_frames
    log: dict[str, Any] = {"bodies": [b.body_id for b in raw.bodies], "removed": {}, "actor1": [], "actor2": []}
    for b in raw.bodies:
        _check_interval(b, n, raw.name)
    if len(raw.bodies) == 1:  # single bodyID: no denoising, no missing-frame removal
        log["actor1"] = [raw.bodies[0].body_id]
        return _one_actor(raw.bodies[0], n), log

    # length
    bodies = []
    for b in raw.bodies:
        if len(b.interval) <= p["noise_len_thres"]:
            log["removed"][b.body_id] = f"length {len(b.interval)}"
        else:
            bodies.append(SgnBody(b.body_id, b.joints, b.interval, b.motion))
    if not bodies:
        raise SgnPipelineError(f"{raw.name}: every body is at most {p['noise_len_thres']} frames long (all noise)")
    unknown = [b for b in bodies if np.isnan(b.motion)] if len(bodies) > 1 else []
    if unknown:  # stage 1 ran with motion=False
        for b, m in zip(unknown, _motions([b.joints for b in unknown])):
            b.motion = m
    # spread (stops as soon as one body is left)
    if len(bodies) > 1:
        kept = list(bodies)
        for b in bodies:
            if len(kept) == 1:
                break
            flat = _flat_frames(b.joints, p["noise_spr_thres1"])
            num_noise = int(flat.sum())
            if num_noise == 0:
                continue
            ratio = num_noise / float(len(b.interval))
            if ratio >= p["noise_spr_thres2"]:
                kept.remove(b)
                log["removed"][b.body_id] = f"spread {ratio:.4f}"
            else:
                b.motion = min(b.motion, _motion(b.joints[~flat]))
                log.setdefault("motion_updated", {})[b.body_id] = float(b.motion)
        bodies = kept
    if len(bodies) > 1:
        bodies = sorted(bodies, key=lambda b: b.motion, reverse=True)

    if len(bodies) == 1:
        joints = _one_actor(bodies[0], n)
        log["actor1"] = [bodies[0].body_id]
    else:
        joints = np.zeros((n, 150), np.float32)
        a1 = bodies[0]
        joints[a1.start : a1.end + 1, :75] = a1.joints.reshape(-1, 75)
        log["actor1"] = [a1.body_id]
        start1, end1 = a1.start, a1.end
        start2, end2 = 0, 0  # the reference's virtual initial interval of actor 2
        for b in bodies[1:]:
            start, end = b.start, b.end
            if min(end1, end) - max(start1, start) <= 0:
                joints[start : end + 1, :75] = b.joints.reshape(-1, 75)
                log["actor1"].append(b.body_id)
                start1, end1 = min(start, start1), max(end, end1)
            elif min(end2, end) - max(start2, start) <= 0:
                joints[start : end + 1, 75:] = b.joints.reshape(-1, 75)
                log["actor2"].append(b.body_id)
                start2, end2 = min(start, start2), max(end, end2)
            else:
                log["removed"][b.body_id] = "overlaps both actors"
    # missing frames: rows whose float32 sum is 0 (multi-body files only)
    keep = joints.sum(axis=1) != 0
    log["frames_removed"] = int((~keep).sum())
    if not keep.all():
        joints = joints[keep]
    return joints, log


def sgn_translate(joints: np.ndarray, origin_joint: int = SGN_PARAMS["origin_joint"], name: str = "") -> np.ndarray:
    """Stage 3 (reference ``seq_translation``): a translated copy of a ``(T, 75|150)`` array."""
    joints = np.array(joints, dtype=np.float32, copy=True)
    two = joints.shape[1] == 150
    if two:
        missing1 = joints[:, :75].sum(axis=1) == 0
        missing2 = joints[:, 75:].sum(axis=1) == 0
    present = np.flatnonzero((joints[:, :75] != 0).any(axis=1))
    if present.size == 0:
        raise SgnPipelineError(f"{name}: actor 1 is zero in every frame; no origin for the translation")
    origin = joints[present[0], 3 * origin_joint : 3 * origin_joint + 3].copy()
    joints -= np.tile(origin, joints.shape[1] // 3)
    if two:
        joints[missing1, :75] = 0
        joints[missing2, 75:] = 0
    return joints


def sgn_align(joints: np.ndarray, max_frames: int = 300) -> np.ndarray:
    """The reference's ``align_frames`` for one sequence: zero-pad to ``(max_frames, 150)``."""
    T = joints.shape[0]
    if T > max_frames:
        raise ValueError(f"sequence has {T} frames, more than max_frames={max_frames}")
    out = np.zeros((max_frames, 150), np.float32)
    out[:T, : joints.shape[1]] = joints
    return out


def sgn_to_canonical(joints: np.ndarray) -> np.ndarray:
    """``(T, 75|150)`` rows (actor-major, joint-major, xyz) -> ``(3, T, 25, 2)`` float32.

    The result is a view of a frame-major ``(T, 3, 25, 2)`` array: the layout prepared datasets
    store, so that writing it needs no further copy."""
    T, cols = joints.shape
    if cols not in (75, 150):
        raise ValueError(f"expected 75 or 150 columns, got {cols}")
    out = np.zeros((T, 3, 25, 2), np.float32)
    out[..., : cols // 75] = joints.reshape(T, cols // 75, 25, 3).transpose(0, 3, 2, 1)
    return out.transpose(1, 0, 2, 3)


def sgn_process(ske: NtuSkeleton, name: str | None = None, params: dict[str, Any] | None = None) -> SgnResult:
    """Run all stages on one parsed file."""
    raw = sgn_raw_bodies(ske, name)
    denoised, log = sgn_denoise(raw, params)
    p = {**SGN_PARAMS, **(params or {})}
    translated = sgn_translate(denoised, p["origin_joint"], raw.name)
    return SgnResult(raw=raw, denoised=denoised, translated=translated, data=sgn_to_canonical(translated), log=log)


def sgn_sample(ske: NtuSkeleton, name: str | None = None, params: dict[str, Any] | None = None) -> np.ndarray:
    """The final ``(3, T, 25, 2)`` float32 sample of :func:`sgn_process`, the same values, computed in
    one step for the common recording: one bodyID, listed once in every frame that has a body (then
    no stage selects anything: the frames are translated and laid out). Other recordings go through
    the stages, computing only the motions the denoising uses."""
    ids = np.asarray(ske.body_id)
    joints = ske.joints
    origin_joint = {**SGN_PARAMS, **(params or {})}["origin_joint"]
    if (len(ids) and joints.dtype == np.float32 and (ids == ids[0]).all()
            and len(ids) == np.count_nonzero(ske.body_counts)):
        xyz = joints[:, :, :3]
        present = np.flatnonzero(xyz.any(axis=(1, 2)))
        if present.size:
            origin = xyz[present[0], origin_joint].copy()
            out = np.zeros((len(ids), 3, 25, 2), np.float32)
            np.subtract(xyz.transpose(0, 2, 1), origin[:, None], out=out[..., 0])
            return out.transpose(1, 0, 2, 3)
    raw = sgn_raw_bodies(ske, name, motion=False)
    denoised, _ = sgn_denoise(raw, params)
    return sgn_to_canonical(sgn_translate(denoised, origin_joint, raw.name))
