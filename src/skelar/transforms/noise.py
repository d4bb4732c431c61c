"""Training noise that mimics skeletons from a monocular pose estimator (video input) on depth-camera data."""

from __future__ import annotations

import numpy as np

from skelar.transforms.base import register_transform
from skelar.transforms.frames import person_present

__all__ = ["EstimatedPoseNoise"]


@register_transform("estimated_pose_noise")
class EstimatedPoseNoise:
    """Perturb the coordinates (metres) of present frames the way a monocular estimate differs from Kinect.

    * ``offset``: one Gaussian offset per joint and sequence (std in metres), for joints that the
      estimator places differently (a spine or hand derived from other landmarks);
    * ``jitter``: independent Gaussian noise per joint and frame (std in metres);
    * ``depth_scale``: the z offsets from frame 0's mean depth scaled by one ``U(lo, hi)`` factor per
      sequence (depth recovered from the person's image size is the least certain coordinate).

    Frames in which a person is absent stay zero. Use after centring and view augmentation, before
    min-max scaling.
    """

    def __init__(self, offset: float = 0.03, jitter: float = 0.015, depth_scale: tuple[float, float] = (0.7, 1.3)):
        lo, hi = (float(v) for v in depth_scale)
        if offset < 0 or jitter < 0 or not 0 < lo <= hi:
            raise ValueError(f"estimated_pose_noise needs offset, jitter >= 0 and 0 < depth_scale[0] <= depth_scale[1], got {offset}, {jitter}, {depth_scale}")
        self.offset, self.jitter, self.depth_scale = float(offset), float(jitter), (lo, hi)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if x.shape[0] < 3:
            raise ValueError(f"estimated_pose_noise needs 3 coordinate channels, got {x.shape[0]}")
        _, T, V, M = x.shape
        present = person_present(x)  # (T, M)
        out = x.copy()
        xyz = out[:3]
        first = present[0]
        z0 = xyz[2, 0][:, first].mean() if first.any() else 0.0
        xyz[2] = z0 + (xyz[2] - z0) * rng.uniform(*self.depth_scale)
        xyz += rng.normal(0.0, self.offset, size=(3, 1, V, M)) + rng.normal(0.0, self.jitter, size=(3, T, V, M))
        out[:3] = np.where(present[None, :, None, :], xyz, 0)
        return out.astype(x.dtype, copy=False)

    def __repr__(self) -> str:
        return f"EstimatedPoseNoise(offset={self.offset}, jitter={self.jitter}, depth_scale={list(self.depth_scale)})"
