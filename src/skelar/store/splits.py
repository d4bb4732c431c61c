"""Validation splits carved from the training part of a protocol, never from the test part."""

from __future__ import annotations

import numpy as np

__all__ = ["carve_validation"]


def carve_validation(
    train_idx: np.ndarray,
    labels: np.ndarray,
    subjects: np.ndarray | None = None,
    fraction: float = 0.1,
    seed: int = 0,
    by: str = "subject",
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``train_idx`` into ``(train, val)``, reproducibly for a given ``seed``.

    ``by="subject"`` holds out whole training subjects (about ``fraction`` of the training samples),
    so validation accuracy estimates generalisation to unseen people; ``by="sample"`` draws a
    class-stratified random ``fraction`` of the samples. Falls back to ``sample`` when fewer than
    two subjects are known.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    if by not in ("subject", "sample"):
        raise ValueError(f"validation 'by' must be 'subject' or 'sample', got {by!r}")
    train_idx = np.asarray(train_idx, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if by == "subject" and subjects is not None:
        subj = np.asarray(subjects)[train_idx]
        uniq = np.unique(subj[subj >= 0])
        if len(uniq) >= 2:
            order = rng.permutation(uniq)
            target = fraction * len(train_idx)
            chosen: list[int] = []
            count = 0
            for s in order:
                if count >= target or len(chosen) == len(uniq) - 1:
                    break
                chosen.append(int(s))
                count += int((subj == s).sum())
            is_val = np.isin(subj, chosen)
            return np.sort(train_idx[~is_val]), np.sort(train_idx[is_val])
    lab = np.asarray(labels)[train_idx]
    val_parts = []
    for c in np.unique(lab):
        members = train_idx[lab == c]
        k = int(round(fraction * len(members)))
        if len(members) > 1:
            k = min(max(k, 1), len(members) - 1)
        else:
            k = 0
        val_parts.append(rng.choice(members, size=k, replace=False))
    val = np.sort(np.concatenate(val_parts)) if val_parts else np.zeros(0, np.int64)
    return np.sort(np.setdiff1d(train_idx, val)), val
