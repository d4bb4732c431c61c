"""Scoring a dataset: every sample once, ``K`` clips each, the clips' raw logits averaged (SGN's protocol)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from skelar.engine.losses import split_output

__all__ = ["EvalResult", "clip_logits", "evaluate"]


@dataclass
class EvalResult:
    """``scores``: mean logits ``(N, K)``; ``labels``/``indices`` (dataset indices) ``(N,)``; mean ``loss`` or None."""

    scores: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    loss: float | None = None

    @property
    def top1(self) -> float:
        if len(self.labels) == 0:
            return float("nan")
        return float((self.scores.argmax(1) == self.labels).mean())


def clip_logits(model: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """``clips (N, K, C, T, V, M)`` -> logits averaged over the ``K`` clips, ``(N, num_classes)``."""
    n, k = clips.shape[:2]
    logits, _ = split_output(model(clips.reshape(n * k, *clips.shape[2:])))
    return logits.reshape(n, k, -1).mean(dim=1)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device | str = "cpu",
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    progress: bool | None = None,
    desc: str = "eval",
) -> EvalResult:
    """Run ``model`` (in eval mode) over ``loader`` (items ``(clips, label, index)``); restores train mode after."""
    was_training = model.training
    model.eval()
    scores, labels, indices = [], [], []
    loss_sum, count = 0.0, 0
    try:
        for clips, y, idx in tqdm(loader, desc=desc, leave=False, disable=None if progress else True):
            logits = clip_logits(model, clips.to(device, non_blocking=True))
            if criterion is not None:
                loss_sum += float(criterion(logits, y.to(device))) * len(y)
            count += len(y)
            scores.append(logits.float().cpu().numpy())
            labels.append(y.numpy())
            indices.append(idx.numpy())
    finally:
        model.train(was_training)
    if not scores:
        return EvalResult(np.zeros((0, 0), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64), None)
    return EvalResult(
        np.concatenate(scores),
        np.concatenate(labels).astype(np.int64),
        np.concatenate(indices).astype(np.int64),
        loss_sum / count if criterion is not None and count else None,
    )
