"""Sample transforms on canonical ``(C, T, V, M)`` arrays; build them from config with :func:`build_transforms`."""

from skelar.transforms.base import Compose, build_transform, build_transforms, check_transforms, list_transforms, needs_layout, register_transform
from skelar.transforms.descriptors import Descriptors
from skelar.transforms.frames import DropZeroFrames, InterleavePersons
from skelar.transforms.noise import EstimatedPoseNoise
from skelar.transforms.geometry import CenterSequence, RandomRotation, sgn_rotation_matrix
from skelar.transforms.mirror import RandomMirror
from skelar.transforms.normalize import CenterFirstFrame, MinMaxNormalize
from skelar.transforms.sampling import SegmentSample
from skelar.transforms.streams import STREAMS, Bone, Motion, Stream, to_bone, to_motion, to_stream
from skelar.transforms.temporal import AsgcnDownsample, RepeatPad, UclaSample, ValidCropResize, repeat_pad_persons
from skelar.transforms.view import UclaViewAugment
from skelar.transforms.ltscl import LtsclClip

__all__ = [
    "Compose",
    "build_transform",
    "build_transforms",
    "check_transforms",
    "list_transforms",
    "register_transform",
    "needs_layout",
    "RandomMirror",
    "DropZeroFrames",
    "InterleavePersons",
    "SegmentSample",
    "RandomRotation",
    "CenterSequence",
    "sgn_rotation_matrix",
    "ValidCropResize",
    "RepeatPad",
    "AsgcnDownsample",
    "UclaSample",
    "repeat_pad_persons",
    "STREAMS",
    "Bone",
    "Motion",
    "Stream",
    "to_bone",
    "to_motion",
    "to_stream",
    "CenterFirstFrame",
    "MinMaxNormalize",
    "UclaViewAugment",
    "LtsclClip",
    "EstimatedPoseNoise",
    "Descriptors",
]
