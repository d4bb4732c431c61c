"""Sample transforms on canonical ``(C, T, V, M)`` arrays; build them from config with :func:`build_transforms`."""

from skelar.transforms.base import Compose, build_transform, build_transforms, list_transforms, register_transform
from skelar.transforms.frames import DropZeroFrames, InterleavePersons
from skelar.transforms.geometry import CenterSequence, RandomRotation, sgn_rotation_matrix
from skelar.transforms.sampling import SegmentSample

__all__ = [
    "Compose",
    "build_transform",
    "build_transforms",
    "list_transforms",
    "register_transform",
    "DropZeroFrames",
    "InterleavePersons",
    "SegmentSample",
    "RandomRotation",
    "CenterSequence",
    "sgn_rotation_matrix",
]
