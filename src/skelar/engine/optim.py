"""Optimisers and per-epoch learning-rate schedules built from the ``optim``/``sched`` config sections.

Both are registries: an optimiser is ``@OPTIMIZERS.register(name)`` on a builder
``(params, lr, weight_decay, momentum, nesterov) -> Optimizer``; a schedule is
``@SCHEDULERS.register(name)`` on ``(epoch, Schedule) -> factor`` giving the multiplier of the base
learning rate after the warm-up (``epoch`` 0-based, counted from the start of training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
from torch.optim.lr_scheduler import LambdaLR

from skelar.registry import Registry

__all__ = ["OPTIMIZERS", "SCHEDULERS", "Schedule", "build_optimizer", "build_scheduler", "lr_factor"]

OPTIMIZERS: Registry[Callable[..., torch.optim.Optimizer]] = Registry("optimizer")


@dataclass(frozen=True)
class Schedule:
    """What a schedule shape may use: the run's length, the ``sched`` keys, the final lr as a factor."""

    epochs: int
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    warmup_epochs: int = 0
    min_factor: float = 0.0


SCHEDULERS: Registry[Callable[[int, Schedule], float]] = Registry("schedule", "schedulers")


@OPTIMIZERS.register("adam")
def _adam(params: list, lr: float, weight_decay: float, momentum: float, nesterov: bool) -> torch.optim.Optimizer:
    """Adam with L2 weight decay (as SGN)."""
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


@OPTIMIZERS.register("adamw")
def _adamw(params: list, lr: float, weight_decay: float, momentum: float, nesterov: bool) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay)."""
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


@OPTIMIZERS.register("sgd")
def _sgd(params: list, lr: float, weight_decay: float, momentum: float, nesterov: bool) -> torch.optim.Optimizer:
    """SGD with momentum, optionally Nesterov."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)


@SCHEDULERS.register("multistep")
def _multistep(epoch: int, s: Schedule) -> float:
    """``gamma ** #{m <= epoch}``, as ``MultiStepLR``."""
    return s.gamma ** sum(1 for m in s.milestones if m <= epoch)


@SCHEDULERS.register("cosine")
def _cosine(epoch: int, s: Schedule) -> float:
    """From 1 down to ``min_factor`` over the epochs after the warm-up."""
    span = max(1, s.epochs - s.warmup_epochs)
    t = min(1.0, (epoch - s.warmup_epochs) / span)
    return s.min_factor + (1.0 - s.min_factor) * 0.5 * (1.0 + math.cos(math.pi * t))


@SCHEDULERS.register("none")
def _constant(epoch: int, s: Schedule) -> float:
    """Constant 1."""
    return 1.0


@SCHEDULERS.register("imdar_chained")
def _imdar_chained(epoch: int, s: Schedule) -> float:
    """imdar's NTU rate: 1 for epochs 1-5, then 0.5, 0.25, then halved every 3 epochs from 0.125.

    What imdar's training ends up with by replacing its ``StepLR`` after epochs 5 and 8
    (reference-notes §4.5, PyTorch's chainable schedulers); ``gamma``/``milestones`` are not used.
    """
    e = epoch - s.warmup_epochs
    return 1.0 if e < 5 else 0.5 ** (e - 4) if e < 7 else 0.125 * 0.5 ** ((e - 7) // 3)


def build_optimizer(
    params: Iterable[torch.nn.Parameter],
    name: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    nesterov: bool = False,
) -> torch.optim.Optimizer:
    """A registered optimiser over the trainable ``params``: ``adam`` (L2 weight decay, as SGN), ``adamw``
    (decoupled), ``sgd`` (momentum, optional Nesterov), ..."""
    params = [p for p in params if p.requires_grad]
    return OPTIMIZERS.get(name, "optim.name")(params, lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov)


def lr_factor(
    name: str,
    epochs: int,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
    warmup_epochs: int = 0,
    min_factor: float = 0.0,
) -> Callable[[int], float]:
    """Multiplier of the base lr for 0-based ``epoch``.

    Warm-up as CTR-GCN: ``(epoch + 1) / warmup_epochs`` while ``epoch < warmup_epochs``; then the
    registered schedule ``name``: ``multistep`` (``gamma ** #{m <= epoch}``, as ``MultiStepLR``),
    ``cosine`` (from 1 down to ``min_factor`` over the remaining epochs), ``none`` (constant 1),
    ``imdar_chained`` (imdar's NTU rate), ...
    """
    shape = SCHEDULERS.get(name, "sched.name")
    s = Schedule(epochs, tuple(sorted(int(m) for m in milestones)), gamma, warmup_epochs, min_factor)

    def factor(epoch: int) -> float:
        if epoch < warmup_epochs:
            return (epoch + 1) / warmup_epochs
        return shape(epoch, s)

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
