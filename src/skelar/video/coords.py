"""A track's BlazePose landmarks as camera-space 3D joints in metres, in NW-UCLA/Kinect axes.

mediapipe's world landmarks are metric but centred on the hips in every frame, so walking would look
like walking on the spot. The hip centre's place is restored from the image: per frame, the scale
``s`` (metres per pixel at the person's depth) is the least-squares fit of the world x/y offsets to
the image x/y offsets, median-filtered over the track; the hip centre sits at ``(u - cx) * s``,
``(v - cy) * s`` and depth ``f * s`` with an assumed focal length ``f`` (default: the larger image
side, about a 53 degree field of view). Axes follow Kinect: x to the image's left, y up, z away from
the camera (checked on NW-UCLA: a person facing the camera has the left shoulder at smaller x).
"""

from __future__ import annotations

import numpy as np

from skelar.video.pose import Pose

__all__ = ["HIP_LEFT", "HIP_RIGHT", "person_scale", "camera_space"]

HIP_LEFT, HIP_RIGHT = 23, 24


def person_scale(pose: Pose, min_visibility: float = 0.5) -> float:
    """Metres per pixel: least-squares ``s`` with ``world_xy - mean ≈ s * (image_xy - mean)`` over visible landmarks."""
    vis = pose.image[:, 2] >= min_visibility
    if vis.sum() < 4:
        vis = np.ones(len(pose.image), bool)
    img = pose.image[vis, :2] - pose.image[vis, :2].mean(axis=0)
    wld = pose.world[vis, :2] - pose.world[vis, :2].mean(axis=0)
    denom = float((img * img).sum())
    return float((img * wld).sum() / denom) if denom > 0 else 0.0


def _median_filter(values: np.ndarray, radius: int) -> np.ndarray:
    out = np.empty_like(values)
    for i in range(len(values)):
        out[i] = np.median(values[max(0, i - radius): i + radius + 1])
    return out


def camera_space(poses: list[Pose], width: int, height: int, focal: float | None = None, smooth: int = 7) -> np.ndarray:
    """``(T, 33, 3)`` float32 joints in metres (Kinect axes) for the consecutive detections ``poses`` of one track."""
    if not poses:
        return np.zeros((0, 33, 3), np.float32)
    f = float(focal or max(width, height))
    s = np.asarray([person_scale(p) for p in poses], np.float64)
    good = s > 0
    s = np.where(good, s, np.median(s[good]) if good.any() else 1.0 / f)
    s = _median_filter(s, smooth)
    out = np.empty((len(poses), 33, 3), np.float32)
    for t, (p, st) in enumerate(zip(poses, s)):
        hip = (p.image[HIP_LEFT, :2] + p.image[HIP_RIGHT, :2]) / 2
        x = (hip[0] - width / 2) * st + p.world[:, 0]
        y = (hip[1] - height / 2) * st + p.world[:, 1]
        z = f * st + p.world[:, 2]
        out[t] = np.stack([-x, -y, z], axis=1)
    return out
