"""Repeat padding of empty frames (2s-AGCN / AS-GCN), shared by the energy pipeline and the temporal transforms."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["repeat_pad_persons"]


def repeat_pad_persons(x: np.ndarray) -> np.ndarray:
    """Per person, fill trailing empty frames by tiling the frames before them (2s-AGCN / AS-GCN).

    For each person that is present at all: if its first frame is empty, its non-empty frames are
    first packed to the front (interior gaps vanish); then the trailing run of empty frames is
    filled with copies of the frames before it, repeated from the beginning. Interior empty frames
    are otherwise kept. A frame is empty when its values sum to zero, as in the references.
    Works on ``(C, T, V, M)`` and returns a new array of the same dtype.
    """
    out = np.array(x, copy=True)
    T = out.shape[1]
    for m in range(out.shape[3]):
        person = out[..., m]  # (C, T, V) view
        frame_sums = person.sum(axis=(0, 2))
        if not frame_sums.any():
            continue
        if frame_sums[0] == 0:
            keep = frame_sums != 0
            packed = person[:, keep].copy()
            person[:] = 0
            person[:, : packed.shape[1]] = packed
            frame_sums = person.sum(axis=(0, 2))
        nonzero = np.flatnonzero(frame_sums)
        start = int(nonzero[-1]) + 1  # first frame of the trailing empty run
        if start < T:
            reps = math.ceil((T - start) / start)
            person[:, start:] = np.concatenate([person[:, :start]] * reps, axis=1)[:, : T - start]
    return out
