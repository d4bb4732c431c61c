"""Prepared samples and datasets in the canonical ``(C, T, V, M)`` layout."""

from typing import Any

from skelar.store.prepared import FORMAT_VERSION, PreparedDataset, PreparedWriter, SampleMeta, is_prepared_dir
from skelar.store.splits import carve_validation

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


def __getattr__(name: str) -> Any:
    # the torch dataset is imported on first use, so that data preparation does not pay torch's import time
    if name in ("SkeletonDataset", "collate_clips"):
        from skelar.data import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module 'skelar.data' has no attribute {name!r}")
