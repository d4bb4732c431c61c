"""Input streams derived from joint positions: bones, motion, and their combination.

The four streams of the multi-stream GCN literature (CTR-GCN, InfoGCN, ...): ``joint`` (the positions),
``bone`` (each joint minus its parent, from the layout's ``bone_pairs``; roots get a zero bone),
``motion`` (frame ``t+1`` minus frame ``t``, last frame zero) and ``bone_motion`` (bone, then motion).
For ``ntu25`` and ``ucla20`` the layouts' parents are exactly CTR-GCN's bone pairs.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from skelar.layouts import JointLayout, get_layout
from skelar.registry import Registry
from skelar.transforms.base import register_transform

__all__ = ["STREAMS", "to_bone", "to_motion", "to_stream", "Bone", "Motion", "Stream"]

# the one list of stream names (``data.stream``, the ``stream`` transform): name -> f(joints, layout)
STREAMS: Registry[Callable[[np.ndarray, "str | JointLayout | None"], np.ndarray]] = Registry("stream")


def to_bone(x: np.ndarray, layout: str | JointLayout) -> np.ndarray:
    """``out[:, :, v] = x[:, :, v] - x[:, :, parent(v)]`` on a ``(C, T, V, M)`` array (all channels)."""
    lay = get_layout(layout)
    if x.shape[2] != lay.num_joints:
        raise ValueError(f"bone stream: input has {x.shape[2]} joints, layout {lay.name!r} has {lay.num_joints}")
    parents = np.asarray(lay.parents)
    out = x - x[:, :, parents]
    out[:, :, parents == np.arange(lay.num_joints)] = 0  # roots: zero bone, exactly
    return out


def to_motion(x: np.ndarray) -> np.ndarray:
    """``out[:, t] = x[:, t + 1] - x[:, t]`` with the last frame set to zero."""
    out = np.zeros_like(x)
    out[:, :-1] = x[:, 1:] - x[:, :-1]
    return out


def to_stream(x: np.ndarray, stream: str, layout: str | JointLayout | None = None) -> np.ndarray:
    """One of :data:`STREAMS` computed from joint positions ``x`` ``(C, T, V, M)`` (bones need ``layout``)."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; choose one of {', '.join(STREAMS.in_order())}")
    return STREAMS.get(stream)(x, layout)


def _needs_layout(stream: str, layout: str | JointLayout | None) -> str | JointLayout:
    if layout is None:
        raise ValueError(f"the {stream} stream needs the dataset's joint layout")
    return layout


@STREAMS.register("joint")
def _joint(x: np.ndarray, layout: str | JointLayout | None) -> np.ndarray:
    """The joint positions themselves."""
    return x


@STREAMS.register("bone")
def _bone(x: np.ndarray, layout: str | JointLayout | None) -> np.ndarray:
    """Each joint minus its parent in the layout (roots: zero)."""
    return to_bone(x, _needs_layout("bone", layout))


@STREAMS.register("motion")
def _motion(x: np.ndarray, layout: str | JointLayout | None) -> np.ndarray:
    """Frame t+1 minus frame t (last frame zero)."""
    return to_motion(x)


@STREAMS.register("bone_motion")
def _bone_motion(x: np.ndarray, layout: str | JointLayout | None) -> np.ndarray:
    """The motion of the bone stream."""
    return to_motion(to_bone(x, _needs_layout("bone_motion", layout)))


@register_transform("bone")
class Bone:
    """Replace joint positions by bone vectors (joint minus parent) of the dataset's ``layout``."""

    def __init__(self, layout: str | JointLayout):
        self.layout = get_layout(layout)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return to_bone(x, self.layout)

    def __repr__(self) -> str:
        return f"Bone(layout={self.layout.name!r})"


@register_transform("motion")
class Motion:
    """Replace positions by their frame-to-frame difference (last frame zero)."""

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return to_motion(x)

    def __repr__(self) -> str:
        return "Motion()"


@register_transform("stream")
class Stream:
    """Select an input stream by name: one of :data:`STREAMS` (``joint``, ``bone``, ``motion``, ``bone_motion``, ...; bones of the dataset's layout)."""

    def __init__(self, stream: str = "joint", *, layout: str | JointLayout):
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}; choose one of {', '.join(STREAMS.in_order())}")
        self.stream = stream
        self.layout = get_layout(layout)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return to_stream(x, self.stream, self.layout)

    def __repr__(self) -> str:
        return f"Stream({self.stream!r}, layout={self.layout.name!r})"
