"""Temporal sampling: SGN's equal-segment sampling (random for training, seeded clips for testing)."""

from __future__ import annotations

import numpy as np

from skelar.transforms.base import register_transform

__all__ = ["SegmentSample"]


@register_transform("segment_sample")
class SegmentSample:
    """Pick one frame from each of ``num_segments`` equal segments.

    Sequences shorter than ``num_segments`` are zero-padded at the end first. With ``T`` frames,
    segment ``i`` spans ``[i*a, (i+1)*a)`` where ``a = T // num_segments``; the tail
    ``T - num_segments*a`` is never sampled (as in SGN). ``mode="random"`` draws a uniform frame in
    each segment from the caller's ``rng`` (SGN train and test clips); ``mode="center"`` takes the
    middle frame, deterministically.
    """

    def __init__(self, num_segments: int = 20, mode: str = "random"):
        if int(num_segments) < 1:
            raise ValueError(f"num_segments must be >= 1, got {num_segments}")
        if mode not in ("random", "center"):
            raise ValueError(f"mode must be 'random' or 'center', got {mode!r}")
        self.num_segments = int(num_segments)
        self.mode = mode

    def offsets(self, length: int, rng: np.random.Generator | None) -> np.ndarray:
        """Frame indices for a (padded) sequence of ``length`` frames."""
        length = max(int(length), self.num_segments)
        ave = length // self.num_segments
        base = np.arange(self.num_segments) * ave
        if self.mode == "center":
            return base + ave // 2
        if rng is None:
            raise ValueError("SegmentSample(mode='random') needs a random generator")
        return base + rng.integers(0, ave, size=self.num_segments)

    def apply(self, x: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Pad ``x`` like :meth:`__call__` and take the given frame ``offsets``."""
        C, T, V, M = x.shape
        if T < self.num_segments:
            x = np.concatenate([x, np.zeros((C, self.num_segments - T, V, M), x.dtype)], axis=1)
        return np.ascontiguousarray(x[:, np.asarray(offsets)])

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return self.apply(x, self.offsets(x.shape[1], rng))

    def __repr__(self) -> str:
        return f"SegmentSample(num_segments={self.num_segments}, mode={self.mode!r})"
