"""Optimisers and per-epoch learning-rate schedules built from the ``optim``/``sched`` config sections."""

from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

import torch
from torch.optim.lr_scheduler import LambdaLR

__all__ = ["build_optimizer", "build_scheduler", "lr_factor"]


def build_optimizer(
    params: Iterable[torch.nn.Parameter],
    name: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    nesterov: bool = False,
) -> torch.optim.Optimizer:
    """``adam`` (L2 weight decay, as SGN), ``adamw`` (decoupled) or ``sgd`` (momentum, optional Nesterov)."""
    params = [p for p in params if p.requires_grad]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
    raise ValueError(f"optim.name: unknown optimizer {name!r} (use adam, adamw or sgd)")


def lr_factor(
    name: str,
    epochs: int,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
    warmup_epochs: int = 0,
    min_factor: float = 0.0,
) -> Callable[[int], float]:
    """Multiplier of the base lr for 0-based ``epoch``.

    Warm-up as CTR-GCN: ``(epoch + 1) / warmup_epochs`` while ``epoch < warmup_epochs``; then
    ``multistep`` (``gamma ** #{m <= epoch}``, as ``MultiStepLR``), ``cosine`` (from 1 down to
    ``min_factor`` over the remaining epochs), ``none`` (constant 1) or ``imdar_chained``.

    ``imdar_chained`` is the rate imdar's NTU training ends up with by replacing its ``StepLR`` after
    epochs 5 and 8 (reference-notes §4.5, PyTorch's chainable schedulers): 1 for epochs 1-5, then
    0.5, 0.25, then halved every 3 epochs from 0.125 (epoch 8 on). ``gamma``/``milestones`` are not used.
    """
    if name not in ("multistep", "cosine", "none", "imdar_chained"):
        raise ValueError(f"sched.name: unknown schedule {name!r} (use multistep, cosine, none or imdar_chained)")
    ms = sorted(int(m) for m in milestones)

    def factor(epoch: int) -> float:
        if epoch < warmup_epochs:
            return (epoch + 1) / warmup_epochs
        if name == "multistep":
            return gamma ** sum(1 for m in ms if m <= epoch)
        if name == "imdar_chained":
            e = epoch - warmup_epochs
            return 1.0 if e < 5 else 0.5 ** (e - 4) if e < 7 else 0.125 * 0.5 ** ((e - 7) // 3)
        if name == "cosine":
            span = max(1, epochs - warmup_epochs)
            t = min(1.0, (epoch - warmup_epochs) / span)
            return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * t))
        return 1.0

    return factor


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    name: str,
    epochs: int,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
    warmup_epochs: int = 0,
    min_lr: float = 0.0,
) -> LambdaLR:
    """A ``LambdaLR`` stepped once per epoch; its state is only counters, so resuming is exact."""
    base = optimizer.param_groups[0]["lr"]
    fn = lr_factor(name, epochs, milestones, gamma, warmup_epochs, min_lr / base if base > 0 else 0.0)
    return LambdaLR(optimizer, lr_lambda=fn)
