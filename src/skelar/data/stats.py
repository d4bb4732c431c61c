"""Summary statistics of a prepared dataset: split sizes, class counts, sequence lengths, persons per sample."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from skelar.store.prepared import PreparedDataset

__all__ = ["persons_present", "dataset_stats", "format_stats", "plot_stats"]


def persons_present(ds: PreparedDataset, chunk: int = 65536) -> np.ndarray:
    """``(N, M)`` bool: is person ``m`` non-zero in at least one frame of sample ``i`` (streams the frames)."""
    total = len(ds.frames)
    per_frame = np.zeros((total, ds.num_persons), bool)
    for a in range(0, total, chunk):
        per_frame[a : a + chunk] = np.any(np.asarray(ds.frames[a : a + chunk]) != 0, axis=(1, 2))
    out = np.zeros((len(ds), ds.num_persons), bool)
    nonempty = np.flatnonzero(ds.lengths > 0)
    if nonempty.size:
        out[nonempty] = np.logical_or.reduceat(per_frame, ds.offsets[nonempty], axis=0)
    return out


def _class_counts(labels: np.ndarray, k: int) -> list[int]:
    return np.bincount(labels, minlength=k).astype(int).tolist()


def dataset_stats(ds: PreparedDataset, bins: int = 20) -> dict[str, Any]:
    """Counts per split part and class, a sequence-length histogram and person statistics (JSON-ready)."""
    if int(bins) < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    k = max(ds.num_classes, int(ds.labels.max()) + 1 if len(ds) else 0)
    lengths = ds.lengths
    present = persons_present(ds)
    n_present = present.sum(axis=1)
    hi = int(lengths.max()) if len(ds) else 1
    counts, edges = np.histogram(lengths, bins=int(bins), range=(0, max(hi, 1)))
    splits = {}
    for proto in ds.protocols():
        for part in ("train", "val", "test"):
            if ds.has_split(proto, part):
                idx = ds.split(proto, part)
                splits[f"{proto}/{part}"] = {"count": int(len(idx)), "per_class": _class_counts(ds.labels[idx], k)}
    return {
        "name": ds.name,
        "root": str(ds.root),
        "layout": ds.layout.name,
        "num_samples": int(len(ds)),
        "num_classes": ds.num_classes,
        "channels": ds.num_channels,
        "max_persons": ds.num_persons,
        "pipeline": ds.preprocessing.get("pipeline"),
        "classes": ds.classes,
        "per_class": _class_counts(ds.labels, k),
        "splits": splits,
        "length": {
            "min": int(lengths.min()) if len(ds) else 0,
            "max": hi if len(ds) else 0,
            "mean": float(lengths.mean()) if len(ds) else 0.0,
            "median": float(np.median(lengths)) if len(ds) else 0.0,
            "histogram": {"edges": edges.tolist(), "counts": counts.astype(int).tolist()},
        },
        "persons": {
            "samples_by_count": {str(m): int((n_present == m).sum()) for m in range(ds.num_persons + 1)},
            "with_second_person": int(present[:, 1].sum()) if ds.num_persons > 1 else 0,
        },
    }


def format_stats(s: dict[str, Any]) -> str:
    """A human-readable report of :func:`dataset_stats`."""
    lines = [
        f"{s['name']}: {s['num_samples']} samples, {s['num_classes']} classes, layout {s['layout']}, "
        f"{s['channels']} channels, up to {s['max_persons']} persons, pipeline {s['pipeline']}",
        f"lengths: min {s['length']['min']}, median {s['length']['median']:g}, mean {s['length']['mean']:.1f}, max {s['length']['max']}",
        "persons present: " + ", ".join(f"{m}: {n}" for m, n in s["persons"]["samples_by_count"].items())
        + f" (with a second person: {s['persons']['with_second_person']})",
        "",
        "splits:",
    ]
    for key, v in s["splits"].items():
        nz = [c for c in v["per_class"] if c]
        span = f"{min(nz)}..{max(nz)} per class" if nz else "empty"
        lines.append(f"  {key:<24} {v['count']:>8}  ({span})")
    lines += ["", "length histogram:"]
    h = s["length"]["histogram"]
    top = max(h["counts"]) or 1
    for a, b, c in zip(h["edges"][:-1], h["edges"][1:], h["counts"]):
        lines.append(f"  [{a:7.1f}, {b:7.1f})  {c:>7}  {'#' * round(40 * c / top)}")
    lines += ["", "classes:"]
    names = s["classes"] or [str(i) for i in range(len(s["per_class"]))]
    for i, (name, c) in enumerate(zip(names, s["per_class"])):
        lines.append(f"  {i:>4}  {c:>7}  {name}")
    return "\n".join(lines)


def plot_stats(s: dict[str, Any], out: str | os.PathLike) -> None:
    """Save a figure with the length histogram, persons per sample and class counts (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    h = s["length"]["histogram"]
    edges = np.asarray(h["edges"])
    axes[0].bar(edges[:-1], h["counts"], width=np.diff(edges), align="edge", edgecolor="black")
    axes[0].set(title="sequence length", xlabel="frames", ylabel="samples")
    pc = s["persons"]["samples_by_count"]
    axes[1].bar([int(m) for m in pc], list(pc.values()), edgecolor="black")
    axes[1].set_xticks([int(m) for m in pc])
    axes[1].set(title="persons present per sample", xlabel="persons", ylabel="samples")
    k = len(s["per_class"])
    x = np.arange(k)
    bottom = np.zeros(k)
    parts = {key: v for key, v in s["splits"].items() if key.split("/")[0] == next(iter(s["splits"]), "").split("/")[0]}
    if parts:
        for key, v in parts.items():
            axes[2].bar(x, v["per_class"], bottom=bottom, label=key)
            bottom += np.asarray(v["per_class"])
        axes[2].legend(fontsize="small")
    else:
        axes[2].bar(x, s["per_class"])
    axes[2].set(title="samples per class", xlabel="class", ylabel="samples")
    fig.suptitle(f"{s['name']} ({s['num_samples']} samples)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
