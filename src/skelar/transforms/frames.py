"""Frame-level transforms: dropping empty frames, folding persons into time, padding."""

from __future__ import annotations

import numpy as np

from skelar.transforms.base import register_transform

__all__ = ["DropZeroFrames", "InterleavePersons", "person_present"]


def person_present(x: np.ndarray) -> np.ndarray:
    """``(T, M)`` boolean: does person ``m`` have any non-zero coordinate in frame ``t``."""
    return np.any(x != 0, axis=(0, 2))


@register_transform("drop_zero_frames")
class DropZeroFrames:
    """Delete frames in which every person and joint is exactly zero (SGN's ``Tolist_fix``)."""

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        keep = np.any(x != 0, axis=(0, 2, 3))
        return x[:, keep] if not keep.all() else x

    def __repr__(self) -> str:
        return "DropZeroFrames()"


@register_transform("interleave_persons")
class InterleavePersons:
    """Fold persons into time: a frame with several present persons becomes consecutive one-person frames.

    This is SGN's ``turn_two_to_one`` generalised to ``M`` persons: ``(C, T, V, M) -> (C, T', V, 1)``.
    A frame with a single present person keeps only that person; a frame with none keeps one zero frame.
    """

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        C, T, V, M = x.shape
        if M == 1:
            return x
        present = person_present(x)  # (T, M)
        counts = present.sum(axis=1)
        # frames with nobody keep their last person slot (all zeros), as the reference does
        empty = counts == 0
        present = present.copy()
        present[empty, M - 1] = True
        t_idx, m_idx = np.nonzero(present)  # row-major: frame order, then person order
        return np.ascontiguousarray(x[:, t_idx, :, m_idx].transpose(1, 0, 2))[..., None]

    def __repr__(self) -> str:
        return "InterleavePersons()"
