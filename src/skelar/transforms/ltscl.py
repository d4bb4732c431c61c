"""LTSCL's view of a sample (reference ``feeder/feeder.py``) as one canonical clip.

``ltscl_clip``: repeat-pad to ``window`` frames, then concatenate along time

1. the observed frames ``[0, window - future)`` (their last frame is the prediction base),
2. the ``future`` target frames ``[window - future, window)``,
3. ``aim_frames`` frames down-sampled from the observed part for the AIM
   (:class:`~skelar.transforms.temporal.AsgcnDownsample`; ``aim_offset: random`` draws the offset
   as released, also at test time; ``fixed`` uses offset 0, for deterministic evaluation).

Output ``(C, window + aim_frames, V, M)``; the ``ltscl`` model splits it back.
"""

from __future__ import annotations

import numpy as np

from skelar.preprocess.padding import repeat_pad_persons
from skelar.transforms.base import register_transform
from skelar.transforms.temporal import AsgcnDownsample, _pad_frames

__all__ = ["LtsclClip"]


@register_transform("ltscl_clip")
class LtsclClip:
    """Observed frames + target frames + AIM frames in one clip (see the module docstring)."""

    def __init__(self, window: int = 300, future: int = 10, aim_frames: int = 50, short: int = 60, aim_offset: str = "random"):
        if aim_offset not in ("random", "fixed"):
            raise ValueError(f"aim_offset must be 'random' or 'fixed', got {aim_offset!r}")
        self.down = AsgcnDownsample(window, future, aim_frames, short)
        self.window, self.future, self.aim_offset = int(window), int(future), aim_offset

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        length = self.down.valid_length(x)
        padded = repeat_pad_persons(_pad_frames(x, self.window))
        rs = self.down.draw(length, rng) if self.aim_offset == "random" else (None if length <= self.down.short else 0)
        aim = padded[:, : self.window - self.future][:, self.down.indices(length, rs)]
        return np.ascontiguousarray(np.concatenate([padded, aim], axis=1), dtype=np.float32)

    def __repr__(self) -> str:
        return f"LtsclClip(window={self.window}, future={self.future}, aim_frames={self.down.num_frames}, aim_offset={self.aim_offset!r})"
