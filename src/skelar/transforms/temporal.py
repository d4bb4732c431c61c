"""Temporal views of a sample used by the GCN references: crop + resize, repeat padding, down-sampling.

* :class:`ValidCropResize` — CTR-GCN's NTU feeder (``valid_crop_resize``): crop a ratio of the valid
  frames (random ratio and start when training, a centre crop at test time) and resize to a fixed
  number of frames by linear interpolation.
* :class:`RepeatPad` — 2s-AGCN / AS-GCN ``repeat_pading``: pad to a fixed length by tiling each
  person's frames from the start.
* :class:`AsgcnDownsample` — the AS-GCN / LTSCL feeder's 50-frame input (repeat pad to 300 frames,
  drop the 10 "future" frames, take 50 evenly spaced frames with a random offset).
* :class:`UclaSample` — CTR-GCN's NW-UCLA feeder: 52 frames, evenly spaced (test) or a sorted random
  multiset (training).

Every random transform exposes ``draw(...)`` (the random numbers it would use) and ``apply(x, ...)``
(the deterministic result for given draws), so recorded reference draws can be replayed.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from skelar.preprocess.padding import repeat_pad_persons
from skelar.transforms.base import register_transform

__all__ = [
    "valid_frame_count",
    "resize_frames",
    "repeat_pad_persons",
    "ValidCropResize",
    "RepeatPad",
    "AsgcnDownsample",
    "UclaSample",
]


def valid_frame_count(x: np.ndarray) -> int:
    """Number of frames of ``(C, T, V, M)`` whose values do not sum to zero (CTR-GCN's ``valid_frame_num``)."""
    return int(np.sum(x.sum(0).sum(-1).sum(-1) != 0))


def resize_frames(x: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation along time to ``length`` frames (half-pixel centres, edges clamped), float32.

    Identical to CTR-GCN's ``F.interpolate(..., mode='bilinear', align_corners=False)`` on the
    ``(C*V*M, T)`` image, which it is implemented with.
    """
    import torch  # imported here: data-only commands should not pay for loading torch
    import torch.nn.functional as F

    C, T, V, M = x.shape
    if T == 0:
        raise ValueError("cannot resize a sequence with no frames")
    img = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).permute(0, 2, 3, 1).reshape(1, 1, C * V * M, T)
    out = F.interpolate(img, size=(C * V * M, int(length)), mode="bilinear", align_corners=False)
    return out.reshape(C, V, M, int(length)).permute(0, 3, 1, 2).contiguous().numpy()


@register_transform("valid_crop_resize")
class ValidCropResize:
    """CTR-GCN's crop of the valid frames resized to ``window`` frames.

    The valid frames are the first :func:`valid_frame_count` frames (the pipeline's padded samples
    hold them contiguously from frame 0). With one ratio ``p_interval=[p]`` (test time) the crop is
    centred: ``bias = int((1 - p) * valid / 2)``, frames ``[bias, valid - bias)``. With two
    ``[lo, hi]`` (training) a ratio ``p ~ U(lo, hi)`` gives ``min(max(floor(valid * p), min_crop), valid)``
    frames starting at a uniform ``bias``. The crop is then linearly resized to ``window`` frames.
    CTR-GCN uses ``window=64``, ``[0.5, 1]`` for training and ``[0.95]`` for testing.
    """

    def __init__(self, window: int = 64, p_interval: Sequence[float] = (0.5, 1.0), min_crop: int = 64):
        p_interval = [float(p) for p in (p_interval if isinstance(p_interval, (list, tuple)) else [p_interval])]
        if len(p_interval) not in (1, 2) or not all(0.0 < p <= 1.0 for p in p_interval):
            raise ValueError(f"p_interval must be [p] or [lo, hi] with values in (0, 1], got {p_interval}")
        if len(p_interval) == 2 and p_interval[0] > p_interval[1]:
            raise ValueError(f"p_interval [lo, hi] needs lo <= hi, got {p_interval}")
        if int(window) < 1 or int(min_crop) < 1:
            raise ValueError(f"window and min_crop must be >= 1, got {window}, {min_crop}")
        self.window = int(window)
        self.p_interval = p_interval
        self.min_crop = int(min_crop)

    @property
    def random(self) -> bool:
        return len(self.p_interval) == 2

    def cropped_length(self, valid: int, p: float) -> int:
        """Frames kept of ``valid`` valid frames for crop ratio ``p`` (at least ``min_crop``)."""
        return int(min(max(int(np.floor(valid * p)), self.min_crop), valid))

    def draw(self, valid: int, rng: np.random.Generator | None) -> tuple[float, int]:
        """``(p, bias)`` for a sequence with ``valid`` valid frames."""
        if not self.random:
            p = self.p_interval[0]
            return p, int((1 - p) * valid / 2)
        if rng is None:
            raise ValueError("valid_crop_resize with a [lo, hi] ratio interval needs a random generator")
        lo, hi = self.p_interval
        p = float(rng.random() * (hi - lo) + lo)
        return p, int(rng.integers(0, valid - self.cropped_length(valid, p) + 1))

    def crop_bounds(self, valid: int, p: float, bias: int) -> tuple[int, int]:
        """``(begin, end)`` of the crop within the valid frames."""
        if not self.random:
            return bias, valid - bias
        return bias, bias + self.cropped_length(valid, p)

    def apply(self, x: np.ndarray, p: float, bias: int) -> np.ndarray:
        """Crop for given ``(p, bias)`` (see :meth:`draw`) and resize; float32 ``(C, window, V, M)``."""
        valid = valid_frame_count(x)
        if valid == 0:
            C, _, V, M = x.shape
            return np.zeros((C, self.window, V, M), np.float32)
        a, b = self.crop_bounds(valid, p, bias)
        return resize_frames(x[:, a:b], self.window)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return self.apply(x, *self.draw(valid_frame_count(x), rng))

    def __repr__(self) -> str:
        return f"ValidCropResize(window={self.window}, p_interval={self.p_interval}, min_crop={self.min_crop})"


def _pad_frames(x: np.ndarray, length: int) -> np.ndarray:
    C, T, V, M = x.shape
    if T >= length:
        return x[:, :length]
    return np.concatenate([x, np.zeros((C, length - T, V, M), x.dtype)], axis=1)


@register_transform("repeat_pad")
class RepeatPad:
    """Zero-pad (or cut) to ``window`` frames, then :func:`repeat_pad_persons` (AS-GCN / LTSCL feeder)."""

    def __init__(self, window: int = 300):
        if int(window) < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = int(window)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return repeat_pad_persons(_pad_frames(x, self.window))

    def __repr__(self) -> str:
        return f"RepeatPad(window={self.window})"


@register_transform("asgcn_downsample")
class AsgcnDownsample:
    """The AS-GCN / LTSCL feeder's down-sampled input ``input_data_dnsp`` ``(C, num_frames, V, M)``.

    ``length`` = span of the non-empty frames (first to last). The sample is repeat-padded to
    ``window`` frames and its last ``future`` frames (the prediction targets) are dropped. If
    ``length <= short`` the first ``num_frames`` frames are taken; otherwise frames
    ``floor(j * (length - future) / num_frames) + rs`` for ``j < num_frames``, with a random offset
    ``rs`` uniform in ``[0, ceil((length - future) / num_frames))`` — drawn at test time too, as in
    the reference.
    """

    def __init__(self, window: int = 300, future: int = 10, num_frames: int = 50, short: int = 60):
        if not 0 <= int(future) < int(window) or int(num_frames) < 1:
            raise ValueError(f"need 0 <= future < window and num_frames >= 1, got {future}, {window}, {num_frames}")
        self.window, self.future, self.num_frames, self.short = int(window), int(future), int(num_frames), int(short)

    @staticmethod
    def valid_length(x: np.ndarray) -> int:
        """Frames from the first to the last one with a non-zero value."""
        valid = (x != 0).sum(axis=3).sum(axis=2).sum(axis=0) > 0
        begin, end = int(valid.argmax()), len(valid) - int(valid[::-1].argmax())
        return end - begin

    def draw(self, length: int, rng: np.random.Generator | None) -> int | None:
        """The offset ``rs`` (``None`` when ``length <= short``: no draw)."""
        if length <= self.short:
            return None
        if rng is None:
            raise ValueError("asgcn_downsample needs a random generator for sequences longer than 'short'")
        return int(rng.uniform(0, np.ceil((length - self.future) / self.num_frames)))

    def indices(self, length: int, rs: int | None) -> np.ndarray:
        """The ``num_frames`` frame indices for a sequence of ``length`` frames and offset ``rs``."""
        if length <= self.short:
            return np.arange(self.num_frames)
        step = (length - self.future) / self.num_frames
        return np.array([int(np.floor(j * step)) + int(rs or 0) for j in range(self.num_frames)])

    def apply(self, x: np.ndarray, rs: int | None, length: int | None = None) -> np.ndarray:
        """Down-sample for a given offset ``rs``; ``length`` defaults to :meth:`valid_length` of ``x``."""
        length = self.valid_length(x) if length is None else int(length)
        padded = repeat_pad_persons(_pad_frames(x, self.window))[:, : self.window - self.future]
        return np.ascontiguousarray(padded[:, self.indices(length, rs)])

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        length = self.valid_length(x)
        return self.apply(x, self.draw(length, rng), length)

    def __repr__(self) -> str:
        return f"AsgcnDownsample(window={self.window}, future={self.future}, num_frames={self.num_frames})"


@register_transform("ucla_sample")
class UclaSample:
    """CTR-GCN's NW-UCLA frame sampling to ``num_frames`` (52) frames.

    ``mode="uniform"`` (test): ``linspace(0, T - 1, num_frames)`` truncated to integers (indices
    repeat when ``T < num_frames``; a one-frame sequence gives identical frames). ``mode="random"``
    (training): ``num_frames`` indices drawn without replacement from every frame index repeated 100
    times, sorted.
    """

    def __init__(self, num_frames: int = 52, mode: str = "uniform"):
        if int(num_frames) < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if mode not in ("uniform", "random"):
            raise ValueError(f"mode must be 'uniform' or 'random', got {mode!r}")
        self.num_frames, self.mode = int(num_frames), mode

    def draw(self, length: int, rng: np.random.Generator | None) -> np.ndarray:
        """Frame indices for a sequence of ``length`` frames."""
        if length < 1:
            raise ValueError("cannot sample frames from an empty sequence")
        if self.mode == "uniform":
            return np.linspace(0, length - 1, self.num_frames).astype(int)
        if rng is None:
            raise ValueError("ucla_sample(mode='random') needs a random generator")
        reps = max(100, math.ceil(self.num_frames / length))
        return np.sort(rng.choice(length * reps, size=self.num_frames, replace=False) % length)

    def apply(self, x: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """The frames at ``indices``."""
        return np.ascontiguousarray(x[:, np.asarray(indices)])

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return self.apply(x, self.draw(x.shape[1], rng))

    def __repr__(self) -> str:
        return f"UclaSample(num_frames={self.num_frames}, mode={self.mode!r})"
