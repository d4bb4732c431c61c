"""The training loop: epochs of steps, validation, and callbacks for every side effect.

:class:`TrainLoop` owns only the order of things: for each epoch, the callbacks' ``on_epoch_start``,
the training batches (each one a :class:`~skelar.engine.train_step.TrainStep` call, then
``on_step_end``), ``on_steps_end``, the scheduler step, validation, the history row and the best score,
then ``on_epoch_end``. Checkpoints, metric files, TensorBoard, plots and progress output are callbacks
(:mod:`skelar.engine.callbacks`); the state that resume needs is the :class:`TrainState`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn

from skelar.engine.distributed import DistContext, all_reduce_sums, broadcast_buffers
from skelar.engine.evaluate import EvalResult
from skelar.engine.metrics import topk_accuracy
from skelar.engine.train_state import TrainState
from skelar.engine.train_step import StepOutput, TrainStep

__all__ = ["Callback", "StepInfo", "EpochResult", "TrainLoop", "run_epoch"]


@dataclass
class StepInfo:
    """One finished training step: ``epoch`` and ``step`` are 0-based; ``global_step`` counts all steps so far."""

    epoch: int
    step: int
    global_step: int
    output: StepOutput
    batch_size: int

    @property
    def loss(self) -> float:
        return float(self.output.loss.detach())


@dataclass
class EpochResult:
    """One finished epoch: its metrics row, the validation result (None without a validation set), whether it is the best."""

    epoch: int  # 1-based: the number of completed epochs
    row: dict[str, Any]
    val: EvalResult | None
    improved: bool


class Callback:
    """Side effects of training; override the hooks you need. Every process calls every hook.

    A hook may read and change ``loop.state`` (freeze parameters, swap the optimiser's learning rates,
    keep an EMA copy in ``state.extra``) and may set ``loop.should_stop`` (early stopping: the loop ends
    after the current epoch; all processes must agree).
    """

    def on_train_start(self, loop: "TrainLoop") -> None:
        """Before the first remaining epoch (open files here)."""

    def on_epoch_start(self, loop: "TrainLoop", epoch: int) -> None:
        """Before epoch ``epoch`` (0-based) trains: the place to freeze, unfreeze or re-group parameters."""

    def on_step_end(self, loop: "TrainLoop", info: StepInfo) -> None:
        """After each optimiser step."""

    def on_steps_end(self, loop: "TrainLoop", epoch: int) -> None:
        """The epoch's training batches are done (before its validation)."""

    def on_epoch_end(self, loop: "TrainLoop", result: EpochResult) -> None:
        """After the epoch's validation, with its row in ``loop.state.history`` and the best score updated."""

    def on_train_end(self, loop: "TrainLoop") -> None:
        """Called once the loop ends, also when it ends with an error (close files here)."""


def run_epoch(
    state: TrainState,
    net: nn.Module,
    loader: Iterable,
    step: TrainStep,
    callbacks: Sequence[Callback],
    loop: "TrainLoop | None",
    epoch: int,
    device: torch.device,
    max_steps: int | None = None,
    ctx: DistContext | None = None,
) -> dict[str, float]:
    """One pass over ``loader``; returns ``{loss, acc, <loss parts>...}`` (sample-weighted means).

    In a data-parallel run (``ctx``) the means are over all processes' samples.
    """
    step.train_mode(net)
    sums: dict[str, float] = {}
    correct = seen = 0
    for i, (clips, labels, _) in enumerate(loader):
        if max_steps is not None and i >= max_steps:
            break
        x = clips[:, 0].to(device, non_blocking=True)
        y = labels.to(device, non_blocking=True)
        out = step(state, net, x, y, epoch, i)
        n = len(y)
        seen += n
        correct += int((out.logits.detach().argmax(1) == y).sum())
        sums["loss"] = sums.get("loss", 0.0) + float(out.loss.detach()) * n
        for name, value in out.parts.items():
            sums[name] = sums.get(name, 0.0) + float(value.detach()) * n
        info = StepInfo(epoch, i, state.global_step, out, n)
        for cb in callbacks:
            cb.on_step_end(loop, info)
    for cb in callbacks:
        cb.on_steps_end(loop, epoch)
    if ctx is not None and ctx.enabled:
        names = sorted(sums)
        totals = all_reduce_sums([seen, correct, *(sums[k] for k in names)], ctx, device)
        seen, correct = int(round(totals[0])), totals[1]
        sums = dict(zip(names, totals[2:]))
    if seen == 0:
        raise ValueError("no training batch was produced (is data.batch_size larger than the training set?)")
    out_means = {k: v / seen for k, v in sums.items()}
    out_means["acc"] = correct / seen
    return out_means


class TrainLoop:
    """Runs ``state`` from its completed epoch to ``epochs``: steps, scheduler, validation, callbacks.

    ``net`` is what training calls (the model, or its DistributedDataParallel wrapper); ``state.model``
    is what is validated and saved. ``validate`` returns the validation result (None: no validation).
    ``loader`` yields ``(clips, labels, index)`` batches; ``sampler.set_epoch`` is called each epoch.
    """

    def __init__(
        self,
        state: TrainState,
        step: TrainStep,
        loader: Iterable,
        sampler: Any,
        epochs: int,
        device: torch.device,
        ctx: DistContext,
        validate: Callable[[], EvalResult] | None = None,
        callbacks: Sequence[Callback] = (),
        net: nn.Module | None = None,
        max_steps: int | None = None,
    ):
        self.state, self.step, self.loader, self.sampler = state, step, loader, sampler
        self.epochs, self.device, self.ctx = epochs, device, ctx
        self.validate, self.callbacks = validate, list(callbacks)
        self.net = net if net is not None else state.model
        self.max_steps = max_steps
        self.should_stop = False

    def _emit(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def run(self) -> TrainState:
        """Train the remaining epochs (or until a callback sets ``should_stop``); returns the state."""
        state = self.state
        try:
            self._emit("on_train_start")
            for epoch in range(state.epoch, self.epochs):
                if self.should_stop:
                    break
                self._emit("on_epoch_start", epoch)
                self._emit("on_epoch_end", self._epoch(epoch))
        finally:
            self._emit("on_train_end")
        return state

    def _epoch(self, epoch: int) -> EpochResult:
        state = self.state
        t0 = time.time()
        lr = state.optimizer.param_groups[0]["lr"]
        self.sampler.set_epoch(epoch)
        stats = run_epoch(state, self.net, self.loader, self.step, self.callbacks, self, epoch, self.device, self.max_steps, self.ctx)
        broadcast_buffers(state.model, self.ctx)  # every process evaluates (and rank 0 saves) rank 0's BatchNorm statistics
        state.scheduler.step()
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr, "train_loss": stats.pop("loss"), "train_acc": stats.pop("acc")}
        if len(stats) > 1:  # auxiliary losses present: also log the classification part and each aux loss
            row.update({f"train_{k}": v for k, v in stats.items()})
        val = self.validate() if self.validate is not None else None
        if val is not None:
            row.update(val_loss=val.loss, val_top1=val.top1, val_top5=topk_accuracy(val.scores, val.labels, 5))
        row["time_s"] = round(time.time() - t0, 3)
        state.history.append(row)
        improved = val is not None and (state.best["value"] is None or val.top1 > state.best["value"])
        if improved:
            state.best = {"metric": "val_top1", "value": val.top1, "epoch": epoch + 1}
        state.epoch = epoch + 1
        return EpochResult(epoch + 1, row, val, improved)
