"""Per-sample normalisations: centring on one joint of the first frame, min-max scaling to [-1, 1].

Together with :class:`~skelar.transforms.view.UclaViewAugment` and
:class:`~skelar.transforms.temporal.UclaSample` they make CTR-GCN's NW-UCLA feeder::

    test:  center_first_frame -> minmax_normalize -> ucla_sample(mode=uniform)
    train: center_first_frame -> ucla_view_augment -> minmax_normalize -> ucla_sample(mode=random)

Only the first ``channels`` channels (the coordinates) are changed. Frames in which a person is absent
(all zero) are left at zero and do not count in the statistics.
"""

from __future__ import annotations

import numpy as np

from skelar.layouts import JointLayout, get_layout
from skelar.transforms.base import register_transform
from skelar.transforms.frames import person_present

__all__ = ["CenterFirstFrame", "MinMaxNormalize"]


@register_transform("center_first_frame")
class CenterFirstFrame:
    """Subtract ``joint`` of person 0 in frame 0 from every joint and frame.

    ``joint`` is a joint name of the dataset's layout or a role (``center``, the default, or ``root``).
    """

    def __init__(self, joint: str | int = "center", *, layout: str | JointLayout, channels: int = 3):
        self.layout = get_layout(layout)
        self.joint = self.layout.joint(joint)
        self.channels = int(channels)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        c = self.channels
        present = person_present(x)  # (T, M)
        out = x.copy()
        origin = x[:c, 0, self.joint, 0]
        out[:c] = x[:c] - origin[:, None, None, None]
        if not present.all():
            out[:c] = np.where(present[None, :, None, :], out[:c], 0)
        return out

    def __repr__(self) -> str:
        return f"CenterFirstFrame(joint={self.layout.names[self.joint]!r}, layout={self.layout.name!r})"


@register_transform("minmax_normalize")
class MinMaxNormalize:
    """Map each coordinate channel linearly so its minimum over the sample is -1 and maximum +1.

    ``(v - min) / (max - min) * 2 - 1`` per channel over all frames, joints and present persons (CTR-GCN
    NW-UCLA feeder). A channel with ``max == min`` becomes 0.
    """

    def __init__(self, channels: int = 3):
        self.channels = int(channels)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        c = self.channels
        present = person_present(x)  # (T, M)
        out = x.copy()
        if not present.any():
            return out
        vals = x[:c].transpose(1, 3, 2, 0)[present]  # (P, V, c) present (frame, person) slots
        lo = vals.reshape(-1, c).min(axis=0)
        hi = vals.reshape(-1, c).max(axis=0)
        rng_ = hi - lo
        safe = np.where(rng_ == 0, 1, rng_)
        scaled = (x[:c] - lo[:, None, None, None]) / safe[:, None, None, None]
        scaled = scaled * 2 - 1
        scaled[rng_ == 0] = 0
        out[:c] = np.where(present[None, :, None, :], scaled, 0)
        return out

    def __repr__(self) -> str:
        return f"MinMaxNormalize(channels={self.channels})"
