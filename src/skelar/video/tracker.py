"""A small multi-person tracker: greedy matching of pose boxes between frames.

Each detection is matched to the live track whose last box overlaps it most (IoU >= ``min_iou``), or,
failing that, whose last box centre is within ``max_shift`` box heights (fast motion). Matching is greedy
by score, one detection per track. Detections of one frame whose boxes overlap by more than
``duplicate_overlap`` of the smaller box are one person seen twice (the estimator can re-detect a tracked person); the one with
the higher mean landmark visibility is kept. A track that misses detections keeps its id for ``max_missed``
frames, then ends; a person who reappears later gets a new id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from skelar.video.pose import Pose

__all__ = ["Track", "IoUTracker", "box_iou", "box_overlap"]


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``[x0, y0, x1, y1]`` boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def box_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box's area."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(iw * ih / small) if small > 0 else 0.0


@dataclass
class Track:
    id: int
    poses: dict[int, Pose] = field(default_factory=dict)  # frame index -> pose
    last_box: np.ndarray | None = None
    last_frame: int = -1

    @property
    def first_frame(self) -> int:
        return min(self.poses)


class IoUTracker:
    """Feed ``update(frame_index, poses)`` once per frame; ``tracks`` holds every track ever started."""

    def __init__(self, min_iou: float = 0.2, max_shift: float = 0.5, max_missed: int = 15, duplicate_overlap: float = 0.6):
        self.min_iou, self.max_shift, self.max_missed = float(min_iou), float(max_shift), int(max_missed)
        self.duplicate_overlap = float(duplicate_overlap)
        self.tracks: list[Track] = []

    def _score(self, track: Track, box: np.ndarray) -> float:
        """> 1 for overlap (1 + IoU), (0, 1] for a near centre, 0 for no match."""
        iou = box_iou(track.last_box, box)
        if iou >= self.min_iou:
            return 1.0 + iou
        lb = track.last_box
        height = max(lb[3] - lb[1], box[3] - box[1], 1e-6)
        shift = float(np.hypot(*((lb[:2] + lb[2:]) / 2 - (box[:2] + box[2:]) / 2))) / height
        return 1.0 - shift / self.max_shift if shift < self.max_shift else 0.0

    def _drop_duplicates(self, poses: list[Pose]) -> list[Pose]:
        order = sorted(range(len(poses)), key=lambda i: -float(poses[i].image[:, 2].mean()))
        kept: list[int] = []
        for i in order:
            if all(box_overlap(poses[i].box(), poses[k].box()) <= self.duplicate_overlap for k in kept):
                kept.append(i)
        return [poses[i] for i in sorted(kept)]

    def update(self, frame: int, poses: list[Pose]) -> list[tuple[int, Pose]]:
        """Assign ``poses`` of ``frame`` to tracks; returns ``(track id, pose)`` pairs."""
        poses = self._drop_duplicates(poses)
        live = [t for t in self.tracks if frame - t.last_frame <= self.max_missed + 1]
        boxes = [p.box() for p in poses]
        pairs = sorted(
            ((self._score(t, b), ti, di) for ti, t in enumerate(live) for di, b in enumerate(boxes)),
            reverse=True,
        )
        used_t: set[int] = set()
        assigned: dict[int, Track] = {}
        for score, ti, di in pairs:
            if score <= 0 or ti in used_t or di in assigned:
                continue
            used_t.add(ti)
            assigned[di] = live[ti]
        out = []
        for di, pose in enumerate(poses):
            track = assigned.get(di)
            if track is None:
                track = Track(id=len(self.tracks) + 1)
                self.tracks.append(track)
            track.poses[frame] = pose
            track.last_box, track.last_frame = boxes[di], frame
            out.append((track.id, pose))
        return out
