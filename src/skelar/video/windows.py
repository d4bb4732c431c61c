"""Sliding windows over a track and their per-window top-k classes from a loaded checkpoint.

A window covers ``window`` frames and starts every ``stride`` frames from the track's first frame (a
track shorter than one window but at least ``min_frames`` long gets one window over all of it). Only
frames in which the person was detected enter a window, and a window needs at least half of its frames
detected. Each window becomes a ``(C, T, V, M)`` array (the person in slot 0) that goes through the
checkpoint's own test transforms, ``K`` clips seeded by (seed, person id, first frame, clip).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from skelar.engine.evaluate import clip_logits
from skelar.engine.inference import LoadedModel

__all__ = ["Window", "track_windows", "classify_windows"]


@dataclass
class Window:
    person: int
    start: int  # first frame (inclusive)
    end: int  # last frame + 1
    joints: np.ndarray  # (T, V, C) of the detected frames inside the window


def track_windows(person: int, frames: np.ndarray, joints: np.ndarray, window: int, stride: int, min_frames: int) -> list[Window]:
    """Windows of one track: ``frames`` (T,) sorted frame indices of its detections, ``joints`` (T, V, C)."""
    if len(frames) == 0:
        return []
    first, last = int(frames[0]), int(frames[-1]) + 1
    if last - first < window:
        if len(frames) < min_frames:
            return []
        return [Window(person, first, last, joints)]
    out = []
    start = first
    while start + window <= last:
        sel = (frames >= start) & (frames < start + window)
        if sel.sum() >= max(min_frames, window // 2):
            out.append(Window(person, start, start + window, joints[sel]))
        start += stride
    return out


@torch.no_grad()
def classify_windows(lm: LoadedModel, windows: list[Window], top_k: int, batch: int = 64) -> list[list[dict[str, Any]]]:
    """Top-``k`` ``{index, class, prob}`` per window (softmax of the clip-averaged logits)."""
    info = lm.metadata.get("dataset") or {}
    persons = int(info.get("num_persons") or 1)
    out: list[list[dict[str, Any]]] = []
    for b in range(0, len(windows), batch):
        stacks = []
        for w in windows[b: b + batch]:
            x = np.zeros((w.joints.shape[2], len(w.joints), w.joints.shape[1], persons), np.float32)
            x[..., 0] = w.joints.transpose(2, 0, 1)
            clips = [lm.transform(x, np.random.default_rng([lm.seed, w.person, w.start, k])) for k in range(lm.clips)]
            stacks.append(np.stack(clips))
        try:
            batch_t = torch.from_numpy(np.stack(stacks).astype(np.float32)).to(lm.device)
        except ValueError:
            raise ValueError("the checkpoint's test transforms give clips of different lengths; video windows need a fixed-length sampler") from None
        prob = torch.softmax(clip_logits(lm.model, batch_t).float(), dim=1).cpu().numpy()
        for p in prob:
            order = np.argsort(-p, kind="stable")[: max(1, min(top_k, len(p)))]
            out.append([{"index": int(i), "class": lm.classes[i] if i < len(lm.classes) else str(i), "prob": float(p[i])} for i in order])
    return out
