"""Probabilities and top-k rows with class names."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["softmax", "top_k_row"]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def top_k_row(logits: np.ndarray, classes: Sequence[str], k: int) -> list[dict[str, Any]]:
    """The ``k`` most probable classes of clip-averaged ``logits (K,)``: ``[{index, class, prob}, ...]``."""
    prob = softmax(logits)
    order = np.argsort(-prob, kind="stable")[: max(1, min(k, len(prob)))]
    return [{"index": int(i), "class": classes[i] if i < len(classes) else str(i), "prob": float(prob[i])} for i in order]
