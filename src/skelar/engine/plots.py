"""PNG plots of a run: loss/accuracy curves and the confusion matrix (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["plot_curves", "plot_confusion", "plot_confusion_subset"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _column(history: Sequence[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else float(r[key]) for r in history], dtype=float)


def plot_curves(history: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Loss (train/val) and accuracy (train top-1, val top-1/top-5) per epoch."""
    plt = _pyplot()
    epochs = [r["epoch"] for r in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train_loss", "train"), ("val_loss", "val")):
        y = _column(history, key)
        if np.isfinite(y).any():
            ax_loss.plot(epochs, y, marker=".", label=label)
    for key, label in (("train_acc", "train top-1"), ("val_top1", "val top-1"), ("val_top5", "val top-5")):
        y = _column(history, key)
        if np.isfinite(y).any():
            ax_acc.plot(epochs, 100 * y, marker=".", label=label)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(cm: np.ndarray, classes: Sequence[str], path: str | Path, title: str = "confusion (row-normalised)") -> None:
    """Row-normalised confusion matrix; class names are shown when there are at most 40 classes."""
    plt = _pyplot()
    cm = np.asarray(cm, dtype=float)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    k = len(cm)
    size = min(4 + 0.25 * k, 20)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    if k <= 40 and len(classes) == k:
        ax.set_xticks(range(k), classes, rotation=90, fontsize=7)
        ax.set_yticks(range(k), classes, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion_subset(
    cm: np.ndarray, classes: Sequence[str], indices: Sequence[int], path: str | Path, title: str = "most confused classes"
) -> None:
    """The confusion matrix restricted to the classes ``indices`` (rows and columns), annotated with counts.

    Colours are shares of **all** samples of the row's true class (row sums of the full matrix), so a
    cell reads "share of class a predicted as b", as in the full plot.
    """
    plt = _pyplot()
    cm = np.asarray(cm, dtype=float)
    idx = [int(i) for i in indices]
    rows = cm.sum(axis=1)[idx][:, None]
    sub = cm[np.ix_(idx, idx)]
    norm = np.divide(sub, rows, out=np.zeros_like(sub), where=rows > 0)
    names = [str(classes[i]) if len(classes) == len(cm) else str(i) for i in idx]
    k = len(idx)
    size = min(3 + 0.45 * k, 14)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="Oranges")
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the true class")
    for r in range(k):
        for c in range(k):
            if sub[r, c]:
                ax.text(c, r, str(int(sub[r, c])), ha="center", va="center", fontsize=7, color="white" if norm[r, c] > 0.5 else "black")
    short = [n if len(n) <= 28 else n[:27] + "…" for n in names]
    ax.set_xticks(range(k), short, rotation=90, fontsize=7)
    ax.set_yticks(range(k), short, fontsize=7)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
