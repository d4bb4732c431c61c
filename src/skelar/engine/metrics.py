"""Classification metrics on score matrices: top-k accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["topk_accuracy", "confusion_matrix", "per_class_accuracy", "classification_report"]


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Fraction of rows whose label is among the ``k`` highest scores (ties broken by index order)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    if len(labels) == 0:
        return float("nan")
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def confusion_matrix(pred: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``cm[true, pred]`` counts, int64 ``(K, K)``."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels, np.int64), np.asarray(pred, np.int64)), 1)
    return cm


def per_class_accuracy(cm: np.ndarray) -> list[float | None]:
    """Recall of each class from a confusion matrix; ``None`` for classes without samples."""
    totals = cm.sum(axis=1)
    return [float(cm[i, i] / totals[i]) if totals[i] else None for i in range(len(cm))]


def classification_report(scores: np.ndarray, labels: np.ndarray, num_classes: int | None = None) -> dict[str, Any]:
    """top1, top5, mean class accuracy, per-class accuracy and confusion matrix (as a NumPy array)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    k = int(num_classes or scores.shape[1])
    cm = confusion_matrix(scores.argmax(axis=1), labels, k) if len(labels) else np.zeros((k, k), np.int64)
    per_class = per_class_accuracy(cm)
    present = [a for a in per_class if a is not None]
    return {
        "num_samples": int(len(labels)),
        "top1": topk_accuracy(scores, labels, 1),
        "top5": topk_accuracy(scores, labels, 5),
        "mean_class_accuracy": float(np.mean(present)) if present else float("nan"),
        "per_class_accuracy": per_class,
        "confusion": cm,
    }
