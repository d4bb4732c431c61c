"""Training stages (``train.stages``): consecutive epoch ranges, each with its own trained and frozen
parameters, losses, optimiser and learning-rate schedule. Nothing here knows a particular model.

* Parameters are selected by name prefix (``aim`` matches ``aim`` and ``aim.*``). A parameter that
  was not trainable when the model was built (e.g. a momentum copy) never becomes trainable.
* Frozen modules (with parameters) are kept in eval mode during training (BatchNorm statistics and
  dropout fixed).
* Each stage gets a fresh optimiser over its trainable parameters and a scheduler whose epochs count
  from the stage's start. The switch to the next stage happens at the end of the previous stage's last
  epoch, before that epoch's checkpoint, so a run resumed at a stage boundary continues exactly.
* A model that defines ``set_active_losses(names)`` is told the losses with a non-zero weight in the
  stage (``"cls"`` for the classification loss), so it can skip computing the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from skelar.engine.config import Config, LossConfig
from skelar.engine.loop import Callback, EpochResult, TrainLoop
from skelar.engine.losses import active_losses, build_loss
from skelar.engine.optim import build_optimizer, build_scheduler
from skelar.engine.train_step import TrainStep

__all__ = ["StagePlan", "ActiveStage", "StageSwitcher", "matches"]

log = logging.getLogger("skelar.train")


def matches(name: str, prefixes: list[str]) -> bool:
    """Whether ``name`` is one of ``prefixes`` or lies under one (``a`` matches ``a.b`` but not ``ab``)."""
    return any(not p or name == p or name.startswith(p + ".") for p in prefixes)


@dataclass
class ActiveStage:
    """The stage in force: its index, optimiser, scheduler, loss section and frozen modules."""

    index: int
    optimizer: torch.optim.Optimizer
    scheduler: Any
    loss: LossConfig
    frozen: list[nn.Module]

    def configure(self, step: TrainStep) -> None:
        """Give ``step`` this stage's criterion, loss weights and frozen modules."""
        step.criterion = build_loss(self.loss.name, self.loss.label_smoothing, self.loss.target_on, self.loss.target_off)
        step.aux_weights = dict(self.loss.aux_weights)
        step.cls_weight = float(self.loss.cls_weight)
        step.frozen_modules = list(self.frozen)


class StagePlan:
    """The stages of ``cfg.train.stages`` for ``model`` (no stages: one stage, the whole run)."""

    def __init__(self, cfg: Config, model: nn.Module) -> None:
        self.cfg, self.model = cfg, model
        self.base_trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        bounds, start = [], 0
        for st in cfg.train.stages:
            bounds.append((start, start + st.epochs))
            start += st.epochs
        self.bounds = bounds or [(0, cfg.train.epochs)]
        for i, st in enumerate(cfg.train.stages):
            names = [n for n, _ in model.named_parameters()]
            for key in ("train", "freeze"):
                for prefix in getattr(st, key) or []:
                    if not any(matches(n, [prefix]) for n in names):
                        raise ValueError(f"train.stages[{i}].{key}: {prefix!r} matches no parameter of the model")

    def index_at(self, epoch: int) -> int:
        """The stage that trains (0-based) ``epoch``."""
        for i, (a, b) in enumerate(self.bounds):
            if a <= epoch < b:
                return i
        return len(self.bounds) - 1

    def activate(self, index: int) -> ActiveStage:
        """Set ``requires_grad`` for stage ``index`` and build its optimiser, scheduler and loss."""
        cfg, model = self.cfg, self.model
        if cfg.train.stages:
            st = cfg.train.stages[index]
            optim, sched, loss = cfg.stage_sections(index)
            train, freeze = st.train, st.freeze
        else:
            optim, sched, loss, train, freeze = cfg.optim, cfg.sched, cfg.loss, None, []
        for n, p in model.named_parameters():
            p.requires_grad_(n in self.base_trainable and (train is None or matches(n, train)) and not matches(n, freeze))
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"train.stages[{index}]: no parameter is left to train")
        frozen = [m for n, m in model.named_modules()
                  if n and any(True for _ in m.parameters())  # parameter-free modules (e.g. a loss's queue) keep the model's mode
                  and (matches(n, freeze) or (train is not None and not matches(n, train) and not any(t.startswith(n + ".") for t in train)))]
        a, b = self.bounds[index]
        optimizer = build_optimizer(params, optim.name, optim.lr, optim.weight_decay, optim.momentum, optim.nesterov)
        scheduler = build_scheduler(optimizer, sched.name, b - a, sched.milestones, sched.gamma, sched.warmup_epochs, sched.min_lr)
        if hasattr(model, "set_active_losses"):
            model.set_active_losses(active_losses(loss.aux_weights, loss.cls_weight))
        if cfg.train.stages:
            name = cfg.train.stages[index].name or f"stage {index + 1}"
            log.info("stage %d/%d (%s): epochs %d-%d, %s trainable parameters", index + 1, len(self.bounds), name, a + 1, b,
                     f"{sum(p.numel() for p in params):,}")
        return ActiveStage(index, optimizer, scheduler, loss, frozen)


class StageSwitcher(Callback):
    """Moves the loop to the next stage after the last epoch of the current one (before the checkpoint
    callbacks run, so the saved optimiser and scheduler are the next stage's)."""

    def __init__(self, plan: StagePlan, stage: ActiveStage) -> None:
        self.plan, self.stage = plan, stage

    def on_epoch_end(self, loop: TrainLoop, result: EpochResult) -> None:
        nxt = self.plan.index_at(result.epoch)  # result.epoch = epochs done = the next epoch's 0-based index
        if result.epoch < loop.epochs and nxt != self.stage.index:
            self.stage = self.plan.activate(nxt)
            loop.state.optimizer, loop.state.scheduler = self.stage.optimizer, self.stage.scheduler
            self.stage.configure(loop.step)
