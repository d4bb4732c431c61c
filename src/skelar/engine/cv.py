"""k-fold cross-validation by training subject (``skelar cv``): a selection signal for small datasets.

Fold ``i`` trains on the training subjects outside fold ``i`` and validates on those inside it
(``data.val: {mode: fold, folds: k, fold: i}``; subjects dealt in sorted order,
:func:`skelar.engine.data_setup.subject_folds`). The test part is never scored (``train.test:
false``), so comparing recipes by the folds' mean validation accuracy cannot leak the test set.
Each fold is an ordinary, resumable run directory under the output folder.
"""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path
from typing import Any

from skelar.engine.config import Config
from skelar.engine.run_dir import write_json
from skelar.engine.trainer import resume_config, train

__all__ = ["cross_validate", "fold_config"]

log = logging.getLogger("skelar.cv")


def fold_config(cfg: Config, folds: int, fold: int) -> Config:
    """``cfg`` for fold ``fold`` of ``folds``: that fold's subjects as validation part, no test."""
    val = cfg.data.val.model_copy(update={"mode": "fold", "folds": folds, "fold": fold})
    data = cfg.data.model_copy(update={"val": val})
    return cfg.model_copy(update={"data": data, "train": cfg.train.model_copy(update={"test": False}), "name": f"{cfg.name}-fold{fold}"})


def _fold_row(fold: int, report: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "fold": fold,
        "val_samples": report["splits"]["val"],
        "train_samples": report["splits"]["train"],
        "last_val_top1": report.get("last_val_top1"),
        "best_val_top1": report.get("best_val_top1"),
        "best_val_epoch": report.get("best_val_epoch"),
        "val_top1_by_epoch": [r.get("val_top1") for r in history],
    }


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def cross_validate(cfg: Config, out: str | Path, folds: int = 5, progress: bool = True, command: str | None = None) -> dict[str, Any]:
    """Train every fold into ``out/fold<i>`` (finished folds are kept, interrupted ones resumed); write ``out/cv_report.json``."""
    if folds < 2:
        raise ValueError(f"cv: --folds must be at least 2, got {folds}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for fold in range(folds):
        run_dir = out / f"fold{fold}"
        report_path = run_dir / "report.json"
        if report_path.is_file():
            log.info("fold %d/%d: finished already (%s)", fold + 1, folds, run_dir)
        elif (run_dir / "last.pt").is_file():
            log.info("fold %d/%d: resuming %s", fold + 1, folds, run_dir)
            resumed, _, ckpt = resume_config(run_dir)
            train(resumed, run_dir=run_dir, resume=ckpt, progress=progress, command=command)
        else:
            log.info("fold %d/%d: training into %s", fold + 1, folds, run_dir)
            train(fold_config(cfg, folds, fold), run_dir=run_dir, progress=progress, command=command)
        report = json.loads(report_path.read_text())
        metrics_path = run_dir / "metrics.json"
        history = json.loads(metrics_path.read_text()) if metrics_path.is_file() else []
        rows.append(_fold_row(fold, report, history))
    last = [r["last_val_top1"] for r in rows if r["last_val_top1"] is not None]
    best = [r["best_val_top1"] for r in rows if r["best_val_top1"] is not None]
    summary = {
        "folds": folds,
        "protocol": cfg.data.protocol,
        "val_samples": sum(r["val_samples"] for r in rows),
        "last_val_top1": _mean_std(last) if last else None,
        "best_val_top1": _mean_std(best) if best else None,
        "per_fold": rows,
        "note": "validation parts are the training subjects of each fold; the test part was never scored",
    }
    write_json(out / "cv_report.json", summary)
    return summary
