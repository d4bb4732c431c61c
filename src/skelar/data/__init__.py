"""Prepared samples and datasets in the canonical ``(C, T, V, M)`` layout."""

from skelar.data.dataset import SkeletonDataset, collate_clips
from skelar.data.prepared import FORMAT_VERSION, PreparedDataset, PreparedWriter, SampleMeta, is_prepared_dir
from skelar.data.splits import carve_validation

__all__ = [
    "FORMAT_VERSION",
    "PreparedDataset",
    "PreparedWriter",
    "SampleMeta",
    "SkeletonDataset",
    "collate_clips",
    "carve_validation",
    "is_prepared_dir",
]
