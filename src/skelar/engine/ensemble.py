"""Score-level ensembles of finished evaluations (e.g. the joint, bone and motion streams of a model).

Inputs are the ``*_scores.npz`` files that training (``<run>/test_scores.npz``) and ``skelar test``
(``<report dir>/<split>_scores.npz``) write. Samples are aligned by name, never by row order; the
inputs must score exactly the same samples with the same labels and class list.

``combine="logits"`` (default) sums the weighted raw scores (clip-averaged logits), as CTR-GCN's and
FR-Head's ``ensemble.py`` do; ``combine="softmax"`` sums weighted softmax probabilities instead, which
keeps one stream with large logits from dominating. Weights are the caller's: choose them on
validation scores (``skelar test --split val``; :func:`choose_weights` compares candidates there),
never on the test set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from skelar.engine.evaluate import EvalResult
from skelar.engine.metrics import topk_accuracy
from skelar.engine.reports import metrics_summary, save_evaluation
from skelar.engine.run_dir import json_safe, write_json
from skelar.store.npy import load_npz

__all__ = [
    "SCORES_FILE", "COMBINE_MODES", "ScoreSet", "EnsembleResult", "WeightChoice",
    "scores_path", "load_scores", "ensemble_scores", "choose_weights", "save_ensemble", "oracle_any",
]

SCORES_FILE = "test_scores.npz"
COMBINE_MODES = ("logits", "softmax")


class _Accuracies:
    """``top1``/``top5`` of ``scores`` against ``labels``."""

    scores: np.ndarray
    labels: np.ndarray

    @property
    def top1(self) -> float:
        return topk_accuracy(self.scores, self.labels, 1)

    @property
    def top5(self) -> float:
        return topk_accuracy(self.scores, self.labels, 5)


@dataclass
class ScoreSet(_Accuracies):
    """One evaluation's scores: ``scores (N, K)``, ``labels``/``names``/``indices (N,)``, ``classes (K)``."""

    path: Path
    scores: np.ndarray
    labels: np.ndarray
    names: np.ndarray
    indices: np.ndarray
    classes: list[str]


@dataclass
class EnsembleResult(_Accuracies):
    """The combined scores (rows in the first input's order) and what went into them."""

    scores: np.ndarray
    labels: np.ndarray
    names: np.ndarray
    indices: np.ndarray
    classes: list[str]
    weights: list[float]
    combine: str
    inputs: list[ScoreSet] = field(default_factory=list)
    split: str = "test"  # the inputs' common "<split>_scores.npz" prefix (else "test"); names the output files


def scores_path(path: str | Path) -> Path:
    """The scores file for ``path``: a ``.npz`` itself, or ``DIR/test_scores.npz`` for a directory.

    For a run directory that is the training run's own final test; a ``skelar test`` report lives in
    its own folder (``<run>/eval-...``), which is passed explicitly (the folder or its ``.npz``).
    """
    p = Path(path)
    if p.is_dir():
        f = p / SCORES_FILE
        if f.is_file():
            return f
        found = sorted(str(q) for q in p.glob("*/*_scores.npz"))
        hint = f"; it has {', '.join(found[:3])}{' ...' if len(found) > 3 else ''}: pass one of those" if found else ""
        raise FileNotFoundError(f"{p}: no {SCORES_FILE} (expected a run directory or a `skelar test` report folder){hint}")
    if not p.exists():
        raise FileNotFoundError(f"scores not found: {p}")
    if p.suffix != ".npz":
        raise ValueError(f"{p}: expected a *_scores.npz file or a directory holding {SCORES_FILE}")
    return p


def load_scores(path: str | Path) -> ScoreSet:
    """Read and check a scores file (see :func:`scores_path`); every problem is a one-line error naming it."""
    f = scores_path(path)
    try:
        arrays = load_npz(f)
    except OSError as e:
        raise ValueError(f"{f}: not a readable .npz scores file ({e.strerror or e})") from None
    except ValueError as e:
        raise ValueError(f"not a readable .npz scores file: {e}") from None
    missing = [k for k in ("scores", "labels", "names") if k not in arrays]
    if missing:
        raise ValueError(f"{f}: missing array(s) {', '.join(missing)} (scores files come from `skelar train` / `skelar test`)")
    scores, labels, names = arrays["scores"], arrays["labels"], arrays["names"]
    if scores.ndim != 2 or not np.issubdtype(scores.dtype, np.number):
        raise ValueError(f"{f}: 'scores' must be a numeric (N, K) array, got {scores.dtype} {scores.shape}")
    n, k = scores.shape
    if n == 0 or k == 0:
        raise ValueError(f"{f}: holds no scores (shape {scores.shape})")
    if not np.isfinite(scores).all():
        raise ValueError(f"{f}: 'scores' contains NaN or infinite values")
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{f}: 'labels' must be {n} integers, got {labels.dtype} {labels.shape}")
    if n and not ((labels >= 0) & (labels < k)).all():
        raise ValueError(f"{f}: labels must lie in 0..{k - 1}")
    if names.shape != (n,):
        raise ValueError(f"{f}: 'names' must hold {n} sample names, got shape {names.shape}")
    names = names.astype(str)
    uniq, counts = np.unique(names, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{f}: sample name {str(uniq[counts > 1][0])!r} occurs {counts[counts > 1][0]} times; samples cannot be aligned")
    classes = [str(c) for c in arrays.get("classes", np.zeros(0, str))]
    if not classes:
        classes = [str(i) for i in range(k)]
    if len(classes) != k:
        raise ValueError(f"{f}: {len(classes)} class names for {k} score columns")
    indices = arrays.get("indices")
    if indices is None or indices.shape != (n,):
        indices = np.arange(n, dtype=np.int64)
    return ScoreSet(f, scores.astype(np.float64), labels.astype(np.int64), names, indices.astype(np.int64), classes)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _check_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0] * n
    w = [float(v) for v in weights]
    if len(w) != n:
        raise ValueError(f"weights: {len(w)} given for {n} input(s); give one weight per input")
    if not all(np.isfinite(v) and v >= 0 for v in w) or not any(v > 0 for v in w):
        raise ValueError(f"weights must be finite and >= 0, at least one > 0 (got {w})")
    return w


def _align(ref: ScoreSet, other: ScoreSet) -> np.ndarray:
    """Row order of ``other`` that matches ``ref``'s sample names (errors when they differ)."""
    if other.classes != ref.classes:
        if len(other.classes) != len(ref.classes):
            raise ValueError(f"{other.path} has {len(other.classes)} classes but {ref.path} has {len(ref.classes)}; inputs must share one class list")
        i = next(j for j, (a, b) in enumerate(zip(ref.classes, other.classes)) if a != b)
        raise ValueError(f"class lists differ: class {i} is {ref.classes[i]!r} in {ref.path} but {other.classes[i]!r} in {other.path}")
    pos = {name: i for i, name in enumerate(other.names)}
    only_ref = [n for n in ref.names if n not in pos]
    if only_ref or len(other.names) != len(ref.names):
        ref_set = set(ref.names)
        only_other = [n for n in other.names if n not in ref_set]
        raise ValueError(
            f"{ref.path} and {other.path} score different samples: {len(only_ref)} only in the first"
            f"{f' (e.g. {only_ref[0]})' if only_ref else ''}, {len(only_other)} only in the second"
            f"{f' (e.g. {only_other[0]})' if only_other else ''}"
        )
    order = np.array([pos[n] for n in ref.names], dtype=np.int64)
    bad = np.flatnonzero(other.labels[order] != ref.labels)
    if bad.size:
        j = int(bad[0])
        raise ValueError(
            f"{ref.path} and {other.path} disagree on the labels of {bad.size} sample(s), e.g. {ref.names[j]}: "
            f"{ref.labels[j]} vs {other.labels[order[j]]}"
        )
    return order


def _combine(sets: Sequence[ScoreSet], weights: list[float], combine: str) -> EnsembleResult:
    ref = sets[0]
    total = np.zeros_like(ref.scores)
    for weight, s in zip(weights, sets):
        part = s.scores[_align(ref, s)]
        total += weight * (_softmax(part) if combine == "softmax" else part)
    prefixes = {s.path.name[: -len("_scores.npz")] if s.path.name.endswith("_scores.npz") else "" for s in sets}
    split = prefixes.pop() if len(prefixes) == 1 and "" not in prefixes else "test"
    return EnsembleResult(total, ref.labels.copy(), ref.names.copy(), ref.indices.copy(), list(ref.classes), weights, combine, list(sets), split)


def oracle_any(result: EnsembleResult) -> dict[str, Any]:
    """``oracle_any_of_<n>``: the share of samples that at least one of the ``n`` inputs classifies correctly.

    An upper bound that needs the true label to pick the right input, not an accuracy (imdar's test
    script reports it as one, reference-notes §4.6). Recorded under its own name, never as ``top1``.
    """
    ref = result.inputs[0]
    hit = np.zeros(len(ref.labels), dtype=bool)
    for s in result.inputs:
        hit |= s.scores[_align(ref, s)].argmax(1) == ref.labels
    n = len(result.inputs)
    return {f"oracle_any_of_{n}": float(hit.mean()), "note": f"upper bound: a sample counts if any one of the {n} inputs is right (needs the label); not an accuracy"}


def _check_combine(combine: str) -> None:
    if combine not in COMBINE_MODES:
        raise ValueError(f"combine must be one of {', '.join(COMBINE_MODES)}, not {combine!r}")


def ensemble_scores(paths: Sequence[str | Path], weights: Sequence[float] | None = None, combine: str = "logits") -> EnsembleResult:
    """``sum_i weights[i] * s_i`` over the inputs' aligned scores ``s_i`` (raw, or softmax for ``combine="softmax"``).

    ``paths`` are ``.npz`` scores files or directories holding ``test_scores.npz``; weights default to
    1 each. Rows follow the first input's order.
    """
    if not paths:
        raise ValueError("ensemble: no inputs given")
    _check_combine(combine)
    w = _check_weights(weights, len(paths))
    return _combine([load_scores(p) for p in paths], w, combine)


@dataclass
class WeightChoice:
    """The candidate weights compared on validation scores and the chosen ones (best top-1, earliest on ties)."""

    weights: list[float]
    index: int  # position of the chosen candidate
    val_top1: float
    table: list[dict[str, Any]]  # one {"weights", "top1", "top5"} per candidate, in the given order
    val_paths: list[Path]

    def as_dict(self) -> dict[str, Any]:
        """The choice as plain values for ``report.json``."""
        return {
            "chosen": self.weights,
            "chosen_index": self.index,
            "val_top1": self.val_top1,
            "val_inputs": [str(p) for p in self.val_paths],
            "candidates": self.table,
        }


def choose_weights(val_paths: Sequence[str | Path], candidates: Sequence[Sequence[float]], combine: str = "logits") -> WeightChoice:
    """Score every candidate weight vector on validation scores and pick the best top-1.

    Ties go to the earlier candidate, so list the preferred default (e.g. equal weights) first.
    Refuses test scores (``test_scores.npz`` or a run directory): weights chosen on the test set
    would make the ensemble's test accuracy an oracle.
    """
    if not val_paths:
        raise ValueError("choose_weights: no validation inputs given")
    if not candidates:
        raise ValueError("choose_weights: no candidate weights given")
    _check_combine(combine)
    files = [scores_path(p) for p in val_paths]
    for f in files:
        if f.name.startswith("test"):
            raise ValueError(
                f"{f}: validation weights must be chosen on validation scores (`skelar test --split val` writes "
                f"val_scores.npz), not on {f.name}"
            )
    sets = [load_scores(f) for f in files]
    table: list[dict[str, Any]] = []
    best: tuple[float, int] | None = None
    for i, cand in enumerate(candidates):
        w = _check_weights(cand, len(sets))
        res = _combine(sets, w, combine)
        table.append({"weights": w, "top1": res.top1, "top5": res.top5})
        if best is None or res.top1 > best[0]:
            best = (res.top1, i)
    assert best is not None
    return WeightChoice(list(table[best[1]]["weights"]), best[1], best[0], table, files)


def save_ensemble(
    result: EnsembleResult,
    out_dir: str | Path,
    ambiguous: Sequence[str | int] | None = None,
    top_confused: int = 10,
    plot: bool = True,
    weight_choice: WeightChoice | None = None,
    oracle: bool = False,
) -> dict[str, Any]:
    """Write ``<split>_scores.npz``, the confusion files and ``report.json`` (as ``skelar test``); return the report.

    ``split`` is the inputs' common one (``val`` for ``val_scores.npz`` inputs), so validation
    ensembles are never labelled as test results. ``weight_choice`` (from :func:`choose_weights`) is
    recorded in the report when the weights were chosen on validation scores; ``oracle`` adds
    :func:`oracle_any` under the key ``oracle``.
    """
    out = Path(out_dir)
    idx = result.indices
    if len(idx) and idx.min() >= 0 and len(np.unique(idx)) == len(idx):
        table = np.full(int(idx.max()) + 1, "", dtype=object)  # names looked up by dataset index, as save_evaluation does
        table[idx] = result.names
    else:
        idx, table = np.arange(len(result.names), dtype=np.int64), result.names
    ev = EvalResult(result.scores.astype(np.float32), result.labels, idx)
    metrics = save_evaluation(out, ev, result.classes, table, prefix=result.split, plot=plot, ambiguous=ambiguous, top_confused=top_confused)
    report = {
        "split": result.split,
        "combine": result.combine,
        "weights": result.weights,
        "inputs": [
            {"path": str(s.path), "weight": wt, "num_samples": int(len(s.labels)), "top1": s.top1, "top5": s.top5}
            for s, wt in zip(result.inputs, result.weights)
        ],
        **({"weight_choice": weight_choice.as_dict()} if weight_choice is not None else {}),
        **({"oracle": oracle_any(result)} if oracle else {}),
        "num_classes": len(result.classes),
        **metrics_summary(metrics, result.classes),
        "out_dir": str(out),
    }
    write_json(out / "report.json", report)
    return json_safe(report)
