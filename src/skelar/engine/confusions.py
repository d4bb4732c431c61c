"""Ambiguous-action analysis of a confusion matrix: the most confused class pairs and the accuracy on
a chosen group of classes (e.g. the hand-centred NTU actions that SF-Head and FR-Head target).

All numbers come from ``cm[true, predicted]`` counts of top-1 predictions. A *pair* ``{a, b}`` counts
the errors in both directions, ``cm[a, b] + cm[b, a]``; its *rate* divides that by the number of
samples of the two classes, ``n_a + n_b``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["class_names", "resolve_class_group", "confused_pairs", "group_accuracy", "ambiguity_report", "summarize_ambiguity", "pair_classes"]


def class_names(classes: Sequence[str], num_classes: int) -> list[str]:
    """``classes`` as strings when there is one per class, else the indices ``"0" .. "K-1"``."""
    return [str(c) for c in classes] if len(classes) == num_classes else [str(i) for i in range(num_classes)]


def resolve_class_group(items: Sequence[str | int] | None, classes: Sequence[str], where: str = "ambiguous classes") -> list[int]:
    """Class indices for ``items`` (class names, indices, or index strings such as ``"11"``).

    Names are matched exactly, then case-insensitively; a name wins over an index reading. Unknown
    names, indices out of range and repeated classes raise a one-line ``ValueError`` naming
    ``where[i]`` (or ``where`` alone for a command-line flag such as ``--ambiguous``).
    """
    classes = [str(c) for c in classes]
    lower: dict[str, list[int]] = {}
    for i, c in enumerate(classes):
        lower.setdefault(c.lower(), []).append(i)
    out: list[int] = []
    for i, item in enumerate(items or []):
        at = where if where.startswith("-") else f"{where}[{i}]"  # CLI flags read better without an index
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (str, int, np.integer)):
            raise ValueError(f"{at}: expected a class name or index, got {item!r}")
        if isinstance(item, str) and item in classes:
            k = classes.index(item)
        elif isinstance(item, str) and len(lower.get(item.lower(), [])) == 1:
            k = lower[item.lower()][0]
        elif isinstance(item, str) and not item.strip().isdigit():
            shown = ", ".join(repr(c) for c in classes[:4]) + (", ..." if len(classes) > 4 else "")
            raise ValueError(f"{at}: unknown class {item!r} (give a class name such as {shown}, or an index 0..{len(classes) - 1})")
        else:
            k = int(item)
        if not 0 <= k < len(classes):
            raise ValueError(f"{at}: class index {k} is out of range (0..{len(classes) - 1})")
        if k in out:
            raise ValueError(f"{at}: class {classes[k]!r} is listed twice")
        out.append(k)
    return out


def _rate(num: float, den: float) -> float | None:
    return float(num / den) if den else None


def confused_pairs(cm: np.ndarray, classes: Sequence[str], top: int = 10) -> list[dict[str, Any]]:
    """The ``top`` class pairs with the most errors between them (both directions), most first.

    Ties are broken by the higher rate, then by class index. Pairs without errors are left out. Each
    entry: ``classes`` ``[a, b]`` (names, ``a`` has the smaller index), ``indices``, ``count``
    (``cm[a,b] + cm[b,a]``), ``rate`` (``count / (n_a + n_b)``), ``a_as_b`` / ``b_as_a`` (counts)
    and ``a_as_b_rate`` / ``b_as_a_rate`` (``cm[a,b] / n_a``, ``cm[b,a] / n_b``; ``None`` without samples).
    """
    cm = np.asarray(cm, dtype=np.int64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {cm.shape}")
    if top <= 0:
        return []
    support = cm.sum(axis=1)
    both = cm + cm.T
    a_idx, b_idx = np.triu_indices(len(cm), k=1)
    counts = both[a_idx, b_idx]
    keep = counts > 0
    a_idx, b_idx, counts = a_idx[keep], b_idx[keep], counts[keep]
    dens = support[a_idx] + support[b_idx]
    rates = np.divide(counts, dens, out=np.zeros(len(counts)), where=dens > 0)
    order = np.lexsort((b_idx, a_idx, -rates, -counts))[:top]
    names = class_names(classes, len(cm))
    out = []
    for j in order:
        a, b = int(a_idx[j]), int(b_idx[j])
        out.append({
            "classes": [names[a], names[b]],
            "indices": [a, b],
            "count": int(counts[j]),
            "rate": _rate(counts[j], dens[j]),
            "a_as_b": int(cm[a, b]),
            "b_as_a": int(cm[b, a]),
            "a_as_b_rate": _rate(cm[a, b], support[a]),
            "b_as_a_rate": _rate(cm[b, a], support[b]),
        })
    return out


def group_accuracy(cm: np.ndarray, indices: Sequence[int], classes: Sequence[str]) -> dict[str, Any]:
    """Top-1 accuracy on the samples whose true class is in ``indices``, and where their errors go.

    ``top1`` = correct / samples of the group; ``mean_class_accuracy`` averages the group's classes
    that have samples; ``errors_within_group`` counts errors predicted as another class of the group
    (``within_group_error_share`` = that / all the group's errors).
    """
    cm = np.asarray(cm, dtype=np.int64)
    idx = [int(i) for i in indices]
    names = class_names(classes, len(cm))
    rows = cm[idx]
    support = rows.sum(axis=1)
    correct = np.array([cm[i, i] for i in idx], dtype=np.int64)
    total, right = int(support.sum()), int(correct.sum())
    inside = int(rows[:, idx].sum()) - right
    per_class = {names[i]: _rate(c, s) for i, c, s in zip(idx, correct, support)}
    present = [v for v in per_class.values() if v is not None]
    return {
        "classes": [names[i] for i in idx],
        "indices": idx,
        "num_samples": total,
        "top1": _rate(right, total),
        "mean_class_accuracy": float(np.mean(present)) if present else None,
        "per_class_accuracy": per_class,
        "errors": total - right,
        "errors_within_group": inside,
        "within_group_error_share": _rate(inside, total - right),
    }


def ambiguity_report(cm: np.ndarray, classes: Sequence[str], ambiguous: Sequence[str | int] | None = None, top: int = 10) -> dict[str, Any]:
    """``{"top_confused_pairs": [...], "ambiguous_group": {...} or None}`` (see the functions above)."""
    group = resolve_class_group(ambiguous, class_names(classes, len(cm)))
    return {
        "top_confused_pairs": confused_pairs(cm, classes, top),
        "ambiguous_group": group_accuracy(cm, group, classes) if group else None,
    }


def pair_classes(pairs: Sequence[dict[str, Any]], limit: int = 20) -> list[int]:
    """Class indices of ``pairs`` in order of first appearance, stopping before ``limit`` is exceeded."""
    out: list[int] = []
    for p in pairs:
        new = [i for i in p["indices"] if i not in out]
        if len(out) + len(new) > limit:
            break
        out.extend(new)
    return out


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def summarize_ambiguity(analysis: dict[str, Any], max_pairs: int = 5) -> list[str]:
    """A few human-readable lines: the most confused pairs and the ambiguous group's accuracy."""
    lines = []
    pairs = analysis.get("top_confused_pairs") or []
    if pairs:
        lines.append("most confused pairs (errors both ways, share of the two classes' samples):")
        for p in pairs[:max_pairs]:
            a, b = p["classes"]
            lines.append(f"  {a} <-> {b}: {p['count']} ({_pct(p['rate'])}; {p['a_as_b']} + {p['b_as_a']})")
    else:
        lines.append("no confused class pairs")
    g = analysis.get("ambiguous_group")
    if g:
        lines.append(
            f"ambiguous group ({len(g['classes'])} classes, {g['num_samples']} samples): top-1 {_pct(g['top1'])}, "
            f"mean class accuracy {_pct(g['mean_class_accuracy'])}; {g['errors_within_group']} of {g['errors']} errors stay in the group"
        )
    return lines
