"""Geometric transforms: SGN's random 3-axis rotation and sequence-level centring."""

from __future__ import annotations

import numpy as np

from skelar.layouts import JointLayout, get_layout
from skelar.transforms.base import register_transform
from skelar.transforms.frames import person_present

__all__ = ["RandomRotation", "CenterSequence", "sgn_rotation_matrix"]


def sgn_rotation_matrix(angles: np.ndarray) -> np.ndarray:
    """``R = Rz @ Ry @ Rx`` for angles ``(ax, ay, az)`` in radians, with SGN's sign conventions."""
    ax, ay, az = (float(a) for a in angles)
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, sx], [0, -sx, cx]])
    ry = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])
    rz = np.array([[cz, sz, 0], [-sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


@register_transform("random_rotation")
class RandomRotation:
    """Rotate the xyz channels by angles drawn ``U(-theta, theta)`` per axis (one draw per sample).

    SGN uses ``theta=0.3`` rad for NTU cross-subject and NTU120, ``0.5`` for cross-view.
    """

    def __init__(self, theta: float = 0.3):
        if float(theta) < 0:
            raise ValueError(f"theta must be >= 0, got {theta}")
        self.theta = float(theta)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """Three angles ``U(-theta, theta)``."""
        return rng.uniform(-self.theta, self.theta, size=3)

    def apply(self, x: np.ndarray, angles: np.ndarray) -> np.ndarray:
        """Rotate the xyz channels of ``x`` by ``angles`` (SGN's convention)."""
        if x.shape[0] < 3:
            raise ValueError(f"rotation needs 3 coordinate channels, got {x.shape[0]}")
        r = sgn_rotation_matrix(angles).astype(x.dtype)
        out = x.copy()
        out[:3] = np.einsum("ij,jtvm->itvm", r, x[:3])
        return out

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.apply(x, self.draw(rng))

    def __repr__(self) -> str:
        return f"RandomRotation(theta={self.theta})"


@register_transform("center_sequence")
class CenterSequence:
    """Subtract one origin from the whole sequence (SGN's ``seq_translation``).

    The origin is ``joint`` (a joint name of the dataset's layout, or a role: ``center``, the default,
    or ``root``) of person 0 in the first frame where person 0 is present. Frames where a person is
    absent stay exactly zero.
    """

    def __init__(self, joint: str | int = "center", *, layout: str | JointLayout):
        self.layout = get_layout(layout)
        self.joint = self.layout.joint(joint)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        present = person_present(x)  # (T, M)
        first = np.flatnonzero(present[:, 0])
        if first.size == 0:
            return x
        origin = x[:3, first[0], self.joint, 0]
        out = x.copy()
        out[:3] = np.where(present[None, :, None, :], x[:3] - origin[:, None, None, None], 0)
        return out

    def __repr__(self) -> str:
        return f"CenterSequence(joint={self.layout.names[self.joint]!r}, layout={self.layout.name!r})"
