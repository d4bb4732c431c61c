"""Axis orders of stored arrays: ``CTVM`` (skelar), ``MTVC`` (PYSKL keypoints), ``TVC`` (one person, frames first), ..."""

from __future__ import annotations

import numpy as np

__all__ = ["parse_axes", "to_ctvm"]


def parse_axes(text: str, where: str = "axes") -> str:
    """Upper-case ``text`` if it is a permutation of ``CTV`` or ``CTVM``; else a ``ValueError`` naming ``where``."""
    axes = str(text).upper()
    if sorted(axes) not in (sorted("CTV"), sorted("CTVM")):
        raise ValueError(f"{where}: must be a permutation of CTV or CTVM (e.g. MTVC for PYSKL keypoints), got {text!r}")
    return axes


def to_ctvm(a: np.ndarray, axes: str, where: str) -> np.ndarray:
    """``a`` stored in axis order ``axes`` as ``(C, T, V, M)`` (``M = 1`` when ``axes`` has no M)."""
    if a.ndim != len(axes):
        raise ValueError(f"{where}: array has {a.ndim} axes {a.shape} but the axis order is {axes!r}")
    out = a.transpose([axes.index(ax) for ax in "CTV" + ("M" if "M" in axes else "")])
    return out if out.ndim == 4 else out[..., None]
