"""A small generated dataset in a layout no shipped file defines: a flat folder of (T, V, C) .npy clips plus an index CSV.

Three easy classes on a 12-joint "wire12" figure: the left wrist rises, the right wrist rises, or the body
squats. Subjects are string pairs (s01s02, ...), as in datasets of two-person recordings.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

WIRE12 = ["Pelvis", "Spine", "Neck", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist", "LKnee", "RKnee"]
PARENTS = [-1, "Pelvis", "Spine", "Neck", "Neck", "LShoulder", "LElbow", "Neck", "RShoulder", "RElbow", "Pelvis", "Pelvis"]
REST = np.array([[0, 0, 0], [0, .3, 0], [0, .6, 0], [0, .8, 0], [-.2, .55, 0], [-.35, .35, 0], [-.4, .15, 0],
                 [.2, .55, 0], [.35, .35, 0], [.4, .15, 0], [-.1, -.4, 0], [.1, -.4, 0]], np.float32)
CLASSES = ["raise_left", "raise_right", "squat"]


def layout_yaml() -> str:
    parents = ", ".join(str(p) for p in PARENTS)
    return (f"name: wire12\ndescription: a 12-joint wire figure\nnames: [{', '.join(WIRE12)}]\nparents: [{parents}]\n"
            "center: Spine\nleft_right: [[LShoulder, RShoulder], [LElbow, RElbow], [LWrist, RWrist], [LKnee, RKnee]]\n"
            "coordinates: {up: +y, units: m}\n")


def clip(label: int, rng: np.random.Generator) -> np.ndarray:
    """One ``(T, 12, 3)`` clip of class ``label``."""
    frames = int(rng.integers(24, 40))
    t = np.sin(np.linspace(0, np.pi, frames))[:, None]
    seq = np.tile(REST, (frames, 1, 1)) * rng.uniform(0.9, 1.1)
    if label < 2:
        wrist, elbow = (6, 5) if label == 0 else (9, 8)
        seq[:, wrist, 1] += 0.8 * t[:, 0]
        seq[:, elbow, 1] += 0.4 * t[:, 0]
    else:
        seq[:, :10, 1] -= 0.3 * t
    seq += rng.uniform(-1, 1, (1, 1, 3)).astype(np.float32)  # position in the room
    return (seq + rng.normal(0, 0.02, seq.shape)).astype(np.float32)


def write_clips(root: Path, per_class: int = 12, seed: int = 0) -> list[dict[str, str]]:
    """``root/<name>.npy`` clips and ``root/index.csv`` (name, label, subject, split); returns the index rows."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    subjects = ["s01s02", "s03s04", "s05s06", "s07s08"]
    rows = []
    for label, cls in enumerate(CLASSES):
        for k in range(per_class):
            subject = subjects[k % 4]
            name = f"{cls}_{subject}_{k:02d}"
            np.save(root / f"{name}.npy", clip(label, rng))
            rows.append({"name": name, "label": cls, "subject": subject, "split": "test" if subject == "s07s08" else "train"})
    with open(root / "index.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["name", "label", "subject", "split"])
        w.writeheader()
        w.writerows(rows)
    return rows
