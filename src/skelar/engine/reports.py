"""Files describing one evaluation: scores (for ensembles), confusion matrix (.npy/.csv/.png), metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from skelar.engine.confusions import ambiguity_report, class_names, pair_classes
from skelar.engine.evaluate import EvalResult
from skelar.engine.metrics import classification_report
from skelar.engine.plots import plot_confusion, plot_confusion_subset
from skelar.engine.run_dir import write_text_atomic

__all__ = ["save_evaluation", "metrics_summary"]


def save_evaluation(
    out_dir: str | Path,
    result: EvalResult,
    classes: Sequence[str],
    names: np.ndarray,
    prefix: str = "test",
    plot: bool = True,
    ambiguous: Sequence[str | int] | None = None,
    top_confused: int = 10,
) -> dict[str, Any]:
    """Write ``<prefix>_scores.npz`` (logits, labels, dataset indices, sample names, classes),
    ``confusion.npy``/``.csv``/``.png`` (prefixed unless ``prefix == "test"``) and return the metrics
    (top1, top5, mean class accuracy, per-class accuracy, ``ambiguity``; confusion excluded).

    ``ambiguity`` (:func:`skelar.engine.confusions.ambiguity_report`) holds the ``top_confused`` most
    confused class pairs and, when ``ambiguous`` names a group of classes, the group's accuracy. With
    ``plot``, ``confused_classes.png`` (and ``ambiguous_classes.png`` for a group; both prefixed like
    the confusion files) show the confusion matrix restricted to those classes."""
    out_dir = Path(out_dir)
    num_classes = len(classes) or (result.scores.shape[1] if result.scores.ndim == 2 else 0)
    metrics = classification_report(result.scores, result.labels, num_classes)
    cm = metrics.pop("confusion")
    names_k = class_names(classes, num_classes)
    metrics["ambiguity"] = ambiguity_report(cm, names_k, ambiguous, top_confused)  # bad class names fail before any file
    out_dir.mkdir(parents=True, exist_ok=True)
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
        lead = "" if prefix == "test" else f"{prefix}_"
        top = pair_classes(metrics["ambiguity"]["top_confused_pairs"])
        if top:
            plot_confusion_subset(cm, names_k, top, out_dir / f"{lead}confused_classes.png", title=f"{prefix}: most confused classes")
        group = metrics["ambiguity"]["ambiguous_group"]
        if group:
            plot_confusion_subset(cm, names_k, group["indices"], out_dir / f"{lead}ambiguous_classes.png", title=f"{prefix}: ambiguous group")
    return metrics


def metrics_summary(metrics: dict[str, Any], classes: Sequence[str]) -> dict[str, Any]:
    """The report.json entries every evaluation shares, from :func:`save_evaluation`'s metrics."""
    return {
        "num_samples": metrics["num_samples"],
        "top1": metrics["top1"],
        "top5": metrics["top5"],
        "mean_class_accuracy": metrics["mean_class_accuracy"],
        "per_class_accuracy": dict(zip(classes, metrics["per_class_accuracy"])),
        "ambiguity": metrics["ambiguity"],
    }
