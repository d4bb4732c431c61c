"""What one panel draws: a ``(C, T, V, M)`` sample, its layout, and how its channels map onto the plot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skelar.layouts import JointLayout

__all__ = ["Panel", "frame_at", "present"]


def present(x: np.ndarray) -> np.ndarray:
    """``(T, V, M)`` bool: joints with any non-zero coordinate (zeros mark missing joints and absent persons)."""
    return np.any(x != 0, axis=0)


def frame_at(i: int, n: int, total: int) -> int:
    """Frame of a panel with ``n`` frames shown at step ``i`` of ``total`` (panels of different lengths stay in step)."""
    return min(n - 1, (i * n) // max(total, 1))


@dataclass
class Panel:
    """``data`` is ``(C, T, V, M)``; ``dims`` 3 draws x, y, z in 3D (y up), 2 draws x, y in the plane.

    ``y_down``: the data's y axis points down (image coordinates), so it is flipped for drawing.
    """

    data: np.ndarray
    layout: JointLayout
    title: str = ""
    dims: int = 3
    y_down: bool = False

    def __post_init__(self) -> None:
        if self.data.ndim != 4:
            raise ValueError(f"{self.title or 'panel'}: expected a (C, T, V, M) sample, got shape {self.data.shape}")
        if self.data.shape[2] != self.layout.num_joints:
            raise ValueError(f"{self.title or 'panel'}: {self.data.shape[2]} joints but layout {self.layout.name!r} has {self.layout.num_joints}")
        if self.dims not in (2, 3) or self.data.shape[0] < self.dims:
            raise ValueError(f"{self.title or 'panel'}: cannot draw {self.dims}D from {self.data.shape[0]} channels")

    @property
    def num_frames(self) -> int:
        return int(self.data.shape[1])

    def coords(self) -> np.ndarray:
        """``(T, V, M, dims)`` plot coordinates: 3D as (x, z, y) so that y is up; 2D as (x, y), y flipped if ``y_down``."""
        x = np.moveaxis(self.data[: self.dims], 0, -1).astype(np.float64)
        if self.dims == 3:
            return x[..., [0, 2, 1]]
        if self.y_down:
            x = x * np.array([1.0, -1.0])
        return x

    def limits(self) -> np.ndarray:
        """``(dims, 2)`` equal-extent axis limits around every present joint of every frame."""
        pts = self.coords()[present(self.data[: self.dims])]
        if not len(pts):
            return np.tile([-1.0, 1.0], (self.dims, 1))
        lo, hi = pts.min(0), pts.max(0)
        mid, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-3) * 1.08
        return np.stack([mid - half, mid + half], axis=1)
