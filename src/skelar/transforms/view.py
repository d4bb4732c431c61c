"""CTR-GCN's NW-UCLA view augmentation: rotation about x and y by whole degrees, then uniform scaling."""

from __future__ import annotations

import math

import numpy as np

from skelar.transforms.base import register_transform

__all__ = ["UclaViewAugment", "ucla_view_matrix"]


def ucla_view_matrix(agx: float, agy: float, s: float) -> np.ndarray:
    """``Ry @ (Rx @ S)`` for angles in degrees; applied to row vectors as ``X @ matrix``."""
    ax, ay = math.radians(agx), math.radians(agy)
    rx = np.asarray([[1, 0, 0], [0, math.cos(ax), math.sin(ax)], [0, -math.sin(ax), math.cos(ax)]])
    ry = np.asarray([[math.cos(ay), 0, -math.sin(ay)], [0, 1, 0], [math.sin(ay), 0, math.cos(ay)]])
    ss = np.asarray([[s, 0, 0], [0, s, 0], [0, 0, s]])
    return np.dot(ry, np.dot(rx, ss))


@register_transform("ucla_view_augment")
class UclaViewAugment:
    """Random view change: integer angles ``agx, agy ~ U{-max_angle..max_angle}`` degrees, scale ``s ~ U(lo, hi)``.

    Every joint ``X`` (xyz row vector) becomes ``X @ Ry(agy) @ Rx(agx) @ (s I)`` in the reference's
    convention (see :func:`ucla_view_matrix`). CTR-GCN uses ``max_angle=60``, ``scale=[0.5, 1.5]``
    after centring on frame 0 and before min-max normalisation.
    """

    def __init__(self, max_angle: int = 60, scale: tuple[float, float] = (0.5, 1.5)):
        if int(max_angle) < 0:
            raise ValueError(f"max_angle must be >= 0, got {max_angle}")
        lo, hi = (float(v) for v in scale)
        if not 0 < lo <= hi:
            raise ValueError(f"scale must be [lo, hi] with 0 < lo <= hi, got {scale}")
        self.max_angle, self.scale = int(max_angle), (lo, hi)

    def draw(self, rng: np.random.Generator) -> tuple[int, int, float]:
        """``(agx, agy, s)``."""
        agx = int(rng.integers(-self.max_angle, self.max_angle + 1))
        agy = int(rng.integers(-self.max_angle, self.max_angle + 1))
        return agx, agy, float(rng.uniform(*self.scale))

    def apply(self, x: np.ndarray, agx: float, agy: float, s: float) -> np.ndarray:
        """Rotate about x and y by ``agx``, ``agy`` degrees and scale by ``s`` (CTR-GCN's NW-UCLA feeder)."""
        if x.shape[0] < 3:
            raise ValueError(f"view augmentation needs 3 coordinate channels, got {x.shape[0]}")
        C, T, V, M = x.shape
        rows = np.ascontiguousarray(x[:3].transpose(3, 1, 2, 0)).reshape(-1, 3)  # (M*T*V, 3)
        moved = np.dot(rows, ucla_view_matrix(agx, agy, s)).reshape(M, T, V, 3).transpose(3, 1, 2, 0)
        out = x.copy()
        out[:3] = moved
        return out

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.apply(x, *self.draw(rng))

    def __repr__(self) -> str:
        return f"UclaViewAugment(max_angle={self.max_angle}, scale={list(self.scale)})"
