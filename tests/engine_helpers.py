"""Test-only models, a slow transform and tiny prepared datasets for the engine and CLI tests.

Importable as ``engine_helpers`` (pytest puts tests/ on sys.path; subprocesses get it via PYTHONPATH),
so configs can load it with ``imports: [engine_helpers]``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from skelar.data import PreparedWriter, SampleMeta
from skelar.layouts import get_layout
from skelar.models import register_model
from skelar.transforms import register_transform

TESTS = Path(__file__).resolve().parent


@register_model("test_mlp", description="test-only: mean over time, 2-layer MLP with dropout (optionally BatchNorm)")
class TinyMLP(nn.Module):
    def __init__(self, num_classes: int = 3, layout: str = "ntu25", num_persons: int = 1, frames: int = 16, hidden: int = 32,
                 dropout: float = 0.2, batchnorm: bool = False):
        super().__init__()
        v = get_layout(layout).num_joints
        self.input_shape = (3, frames, v, num_persons)
        norm = [nn.BatchNorm1d(hidden)] if batchnorm else []
        self.net = nn.Sequential(nn.Linear(3 * v * num_persons, hidden), *norm, nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.mean(dim=2).flatten(1))


@register_model("test_threshold", description="test-only: class 1 iff x[0,0,0,0] < p; p rises by the 'push' aux loss")
class Threshold(nn.Module):
    """Logits ``[0, p - s]`` with ``s = x[:, 0, 0, 0, 0]``; ``aux_losses = {"push": -p}``.

    The classification loss has no gradient w.r.t. ``p`` (it is detached there), so with SGD(lr, no
    momentum) every step moves ``p`` by exactly ``lr * aux_weights["push"]``.
    """

    def __init__(self, num_classes: int = 2, layout: str = "ntu25", num_persons: int = 1):
        super().__init__()
        self.input_shape = (3, None, get_layout(layout).num_joints, num_persons)
        self.p = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        s = x[:, 0, 0, 0, 0]
        logits = torch.stack([torch.zeros_like(s), self.p.detach() - s], dim=1)
        return {"logits": logits, "aux_losses": {"push": -self.p}}


@register_transform("test_sleep")
class Sleep:
    """test-only: sleeps ``seconds`` per sample (makes epochs slow enough to interrupt)."""

    def __init__(self, seconds: float = 0.01):
        self.seconds = float(seconds)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        time.sleep(self.seconds)
        return x


@register_transform("test_noise")
class Noise:
    """test-only: adds N(0, sigma) noise drawn from the caller's generator."""

    def __init__(self, sigma: float = 0.1):
        self.sigma = float(sigma)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return (x + rng.normal(0, self.sigma, x.shape)).astype(np.float32)


def make_easy_dataset(root: Path, num_classes: int = 3, subjects: int = 6, per_class: int = 4, seed: int = 0) -> Path:
    """Separable classes (class c shifts x by c), subjects 1..S; xsub: train = first S-2 subjects
    (stored val = subject S-2), test = last 2; variable lengths 18..40 frames, one person."""
    rng = np.random.default_rng(seed)
    w = PreparedWriter(root, "ntu25", [f"action{c}" for c in range(num_classes)], num_channels=3, num_persons=1)
    subj = []
    for s in range(1, subjects + 1):
        for c in range(num_classes):
            for r in range(per_class):
                t = int(rng.integers(18, 41))
                x = rng.normal(0, 0.3, (3, t, 25, 1)).astype(np.float32)
                x[0] += c
                w.add(x, SampleMeta(f"S{s:03d}A{c:03d}R{r:03d}", c, subject=s, replication=r))
                subj.append(s)
    subj = np.asarray(subj)
    idx = np.arange(len(subj))
    w.set_split("xsub", "train", idx[subj < subjects - 2])
    w.set_split("xsub", "val", idx[subj == subjects - 2])
    w.set_split("xsub", "test", idx[subj > subjects - 2])
    w.close()
    return root


def make_threshold_dataset(root: Path) -> Path:
    """Scalar feature ``s`` in x[0,0,0,0]; train labels follow ``s < 2`` and so does val; test follows ``s < 4``."""
    w = PreparedWriter(root, "ntu25", ["high", "low"], num_channels=3, num_persons=1)

    def add(s: float, label: int, name: str) -> int:
        x = np.full((3, 4, 25, 1), 0.5, np.float32)
        x[0, :, 0, 0] = s
        return w.add(x, SampleMeta(name, label, subject=1))

    train = [add(s, int(s < 2), f"train{i}") for i, s in enumerate([0.5, 1.5, 2.5, 3.5])]
    val = [add(s, int(s < 2), f"val{i}") for i, s in enumerate([0.4, 1.6, 2.4, 3.6])]
    test = [add(s, int(s < 4), f"test{i}") for i, s in enumerate([0.5, 1.5, 2.5, 3.5, 4.5])]
    w.set_split("p", "train", train)
    w.set_split("p", "val", val)
    w.set_split("p", "test", test)
    w.close()
    return root


def tiny_config(data: Path, out: Path, **sections: Any) -> dict[str, Any]:
    """A small config dict for ``test_mlp`` on :func:`make_easy_dataset` data; ``sections`` update top-level keys."""
    cfg: dict[str, Any] = {
        "imports": ["engine_helpers"],
        "seed": 3,
        "output_dir": str(out),
        "data": {
            "source": str(data),
            "protocol": "xsub",
            "val": {"mode": "split"},
            "train_transforms": [{"name": "segment_sample", "num_segments": 16}, {"name": "random_rotation", "theta": 0.3}],
            "test_transforms": [{"name": "segment_sample", "num_segments": 16}],
            "test_clips": 2,
            "batch_size": 8,
            "eval_batch_size": 5,
        },
        "model": {"name": "test_mlp"},
        "optim": {"name": "adam", "lr": 0.05},
        "train": {"epochs": 3, "log_every": 2},
    }
    for k, v in sections.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k] = {**cfg[k], **v}
        else:
            cfg[k] = v
    return cfg
