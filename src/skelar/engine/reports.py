"""Files describing one evaluation: scores (for ensembles), confusion matrix (.npy/.csv/.png), metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from skelar.engine.evaluate import EvalResult
from skelar.engine.metrics import classification_report
from skelar.engine.plots import plot_confusion
from skelar.engine.run_dir import write_text_atomic

__all__ = ["save_evaluation"]


def save_evaluation(
    out_dir: str | Path,
    result: EvalResult,
    classes: Sequence[str],
    names: np.ndarray,
    prefix: str = "test",
    plot: bool = True,
) -> dict[str, Any]:
    """Write ``<prefix>_scores.npz`` (logits, labels, dataset indices, sample names, classes),
    ``confusion.npy``/``.csv``/``.png`` (prefixed unless ``prefix == "test"``) and return the metrics
    (top1, top5, mean class accuracy, per-class accuracy; confusion excluded)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    num_classes = len(classes) or (result.scores.shape[1] if result.scores.ndim == 2 else 0)
    metrics = classification_report(result.scores, result.labels, num_classes)
    cm = metrics.pop("confusion")
    np.savez(
        out_dir / f"{prefix}_scores.npz",
        scores=result.scores.astype(np.float32),
        labels=result.labels,
        indices=result.indices,
        names=np.asarray(names)[result.indices].astype(str) if len(result.indices) else np.zeros(0, str),
        classes=np.asarray(list(classes), dtype=str),
    )
    stem = "confusion" if prefix == "test" else f"{prefix}_confusion"
    np.save(out_dir / f"{stem}.npy", cm)
    header = "true\\pred," + ",".join(str(c).replace(",", " ") for c in classes)
    rows = [f"{str(c).replace(',', ' ')}," + ",".join(str(int(v)) for v in cm[i]) for i, c in enumerate(classes)]
    write_text_atomic(out_dir / f"{stem}.csv", "\n".join([header, *rows]) + "\n")
    if plot:
        plot_confusion(cm, list(classes), out_dir / f"{stem}.png", title=f"{prefix}: confusion (row-normalised)")
    return metrics
