"""Turn a protocol's official train/test membership into the stored ``train``/``val``/``test`` parts."""

from __future__ import annotations

import logging

import numpy as np

from skelar.store.splits import carve_validation, describe_carve

log = logging.getLogger("skelar.prepare")

__all__ = ["protocol_parts"]


def protocol_parts(
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    labels: np.ndarray,
    subjects: np.ndarray | None = None,
    val_fraction: float = 0.1,
    val_by: str = "subject",
    seed: int = 0,
    protocol: str = "",
) -> dict[str, np.ndarray]:
    """``{"train", "val", "test"}`` index arrays; ``val`` is carved from the official training part.

    The stored ``train`` and ``val`` are disjoint and together are exactly the official training
    set; ``test`` is the official test set, never touched. ``val_fraction=0`` stores no ``val``.
    What the carve took is logged (a warning, with the nearest achievable fraction, when whole subjects
    cannot come close to ``val_fraction``; ``protocol`` names it in the message).
    """
    train_idx = np.sort(np.asarray(train_idx, dtype=np.int64))
    test_idx = np.sort(np.asarray(test_idx, dtype=np.int64))
    if np.intersect1d(train_idx, test_idx).size:
        raise ValueError("protocol: train and test parts overlap")
    if not val_fraction:
        return {"train": train_idx, "test": test_idx}
    train, val = carve_validation(train_idx, labels, subjects, fraction=val_fraction, seed=seed, by=val_by)
    message, off = describe_carve(train_idx, val, subjects, val_fraction, seed=seed, by=val_by)
    (log.warning if off else log.info)("%s%s", f"{protocol}: " if protocol else "", message)
    return {"train": train, "val": val, "test": test_idx}
