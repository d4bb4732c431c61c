"""Left/right mirroring from the layout's ``left_right`` pairs (an augmentation for any layout that declares them)."""

from __future__ import annotations

import numpy as np

from skelar.layouts import JointLayout, get_layout
from skelar.transforms.base import register_transform

__all__ = ["RandomMirror"]


@register_transform("random_mirror")
class RandomMirror:
    """With probability ``p``, reflect the sample: negate coordinate ``channel`` and swap every left/right joint pair.

    The pairs come from the dataset's layout (``left_right`` in its layout file); a layout without them
    is refused. ``channel`` (default 0, the x axis) is the axis across the body.
    """

    def __init__(self, p: float = 0.5, channel: int = 0, *, layout: str | JointLayout):
        self.layout = get_layout(layout)
        if not self.layout.left_right:
            raise ValueError(f"random_mirror needs left/right joint pairs, and layout {self.layout.name!r} declares none (add 'left_right' to its layout file)")
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p, self.channel = float(p), int(channel)
        self.perm = self.layout.mirror_permutation

    def draw(self, rng: np.random.Generator) -> bool:
        return bool(rng.random() < self.p)

    def apply(self, x: np.ndarray, flip: bool) -> np.ndarray:
        if not flip:
            return x
        if x.shape[2] != self.layout.num_joints or not 0 <= self.channel < x.shape[0]:
            raise ValueError(f"random_mirror: input {x.shape} does not fit layout {self.layout.name!r} / channel {self.channel}")
        out = np.ascontiguousarray(x[:, :, self.perm])
        out[self.channel] = -out[self.channel]
        return out

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.apply(x, self.draw(rng))

    def __repr__(self) -> str:
        return f"RandomMirror(p={self.p}, channel={self.channel}, layout={self.layout.name!r})"
