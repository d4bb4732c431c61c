"""Validation splits carved from the training part of a protocol, never from the test part."""

from __future__ import annotations

import numpy as np

__all__ = ["carve_validation", "describe_carve"]


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
            order = rng.permutation(uniq)  # the same order as _subject_order(); keep the two in step
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


def _subject_order(subjects: np.ndarray, seed: int) -> np.ndarray:
    """The random order in which :func:`carve_validation` takes whole subjects."""
    return np.random.default_rng(seed).permutation(np.unique(subjects[subjects >= 0]))


def describe_carve(
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    subjects: np.ndarray | None,
    fraction: float,
    seed: int = 0,
    by: str = "subject",
) -> tuple[str, bool]:
    """``(message, off)``: what a carve of ``train_idx`` (the pool) into ``val_idx`` took, and whether that is
    far from the ``fraction`` asked; then the message offers the nearest achievable whole-subject fraction
    and the sample-level carve inside the training subjects (``by: sample``)."""
    n, k = len(train_idx), len(val_idx)
    took = k / n if n else 0.0
    msg = f"validation: {k} of {n} training samples ({100 * took:.1f} %, {100 * fraction:g} % asked)"
    subj = np.asarray(subjects)[np.asarray(train_idx, np.int64)] if subjects is not None else None
    if by != "subject" or subj is None or len(np.unique(subj[subj >= 0])) < 2:
        return msg + (", a class-stratified sample" if k else ""), False
    held = np.unique(np.asarray(subjects)[np.asarray(val_idx, np.int64)])
    msg += f", {len(held)} whole subject(s) of {len(np.unique(subj[subj >= 0]))}"
    off = abs(took - fraction) > max(0.02, 0.25 * fraction)
    if off:
        order = _subject_order(subj, seed)
        counts = np.cumsum([(subj == s_).sum() for s_ in order])[:-1]  # never all subjects
        best = int(np.argmin(np.abs(counts / n - fraction)))
        near = counts[best] / n
        ask = np.floor(near * 1000) / 1000 if best == 0 or np.floor(near * 1000) / 1000 > counts[best - 1] / n else near
        msg += (f"; whole subjects cannot give {100 * fraction:g} % here: the nearest achievable is {100 * near:.1f} % "
                f"({best + 1} subject(s), fraction {ask:g}), or carve samples inside the training subjects with by: sample")
    return msg, off
