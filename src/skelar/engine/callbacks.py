"""The training run's side effects as loop callbacks: progress, logs, TensorBoard, checkpoints, metric files, plots.

Each is one small :class:`~skelar.engine.loop.Callback`; :func:`default_callbacks` lists them in the
order a run uses (log, TensorBoard, checkpoint, metric files, plot — checkpoints before the metric
files, ``last.pt`` last of the checkpoints, so ``last.pt`` is the commit point of a resume).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from tqdm import tqdm

from skelar.engine.loop import Callback, EpochResult, StepInfo, TrainLoop
from skelar.engine.plots import plot_curves
from skelar.engine.run_dir import write_metrics
from skelar.store.checkpoint import save_checkpoint

__all__ = [
    "ProgressBar",
    "StepLogger",
    "EpochLogger",
    "TensorBoardLogger",
    "Checkpointer",
    "MetricsWriter",
    "CurvePlotter",
    "PLOT_INTERVAL_S",
]

log = logging.getLogger("skelar.train")

PLOT_INTERVAL_S = 60.0  # curves.png is redrawn at most this often during training, and after the last epoch


class ProgressBar(Callback):
    """A tqdm bar over each epoch's training batches (``enabled=False``: none)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar: tqdm | None = None

    def on_epoch_start(self, loop: TrainLoop, epoch: int) -> None:
        total = len(loop.loader) if loop.max_steps is None else min(len(loop.loader), loop.max_steps)
        self.bar = tqdm(total=total, desc=f"epoch {epoch + 1}", leave=False, disable=None if self.enabled else True)

    def on_step_end(self, loop: TrainLoop, info: StepInfo) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{info.loss:.4f}")

    def on_steps_end(self, loop: TrainLoop, epoch: int) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_train_end(self, loop: TrainLoop) -> None:
        self.on_steps_end(loop, -1)


class StepLogger(Callback):
    """Logs the training loss every ``every`` optimiser steps."""

    def __init__(self, every: int = 50):
        self.every = every

    def on_step_end(self, loop: TrainLoop, info: StepInfo) -> None:
        if info.global_step % self.every == 0:
            log.info("epoch %d step %d (global %d): loss %.4f", info.epoch + 1, info.step + 1, info.global_step, info.loss)


class EpochLogger(Callback):
    """One log line per epoch: learning rate, training loss and accuracy, validation loss and top-1, time."""

    def on_epoch_end(self, loop: TrainLoop, result: EpochResult) -> None:
        row, val = result.row, result.val
        log.info(
            "epoch %d/%d: lr %.3g, train loss %.4f acc %.2f%%%s (%.1fs)",
            result.epoch, loop.epochs, row["lr"], row["train_loss"], 100 * row["train_acc"],
            f", val loss {val.loss:.4f} top1 {100 * val.top1:.2f}%{' *' if result.improved else ''}" if val is not None else "",
            row["time_s"],
        )


class TensorBoardLogger(Callback):
    """Step losses (every ``every`` steps) and each epoch's row as TensorBoard scalars in ``run_dir/tensorboard``."""

    def __init__(self, run_dir: Path, every: int = 50, purge_step: int | None = None):
        self.run_dir, self.every, self.purge_step = Path(run_dir), every, purge_step
        self.writer: Any = None

    def on_train_start(self, loop: TrainLoop) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise RuntimeError("train.tensorboard: true needs the tensorboard package (pip install 'skelar[tensorboard]')") from None
        self.writer = SummaryWriter(log_dir=str(self.run_dir / "tensorboard"), purge_step=self.purge_step)

    def on_step_end(self, loop: TrainLoop, info: StepInfo) -> None:
        if self.writer is not None and info.global_step % self.every == 0:
            self.writer.add_scalar("train/loss_step", info.loss, info.global_step)
            for name, value in info.output.parts.items():
                self.writer.add_scalar(f"train/{name}_step", float(value.detach()), info.global_step)

    def on_epoch_end(self, loop: TrainLoop, result: EpochResult) -> None:
        if self.writer is not None:
            for k, v in result.row.items():
                if k != "epoch" and v is not None:
                    self.writer.add_scalar(f"epoch/{k}", v, result.epoch)

    def on_train_end(self, loop: TrainLoop) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class Checkpointer(Callback):
    """After each epoch: ``best.pt`` when validation improved, ``epoch_NNN.pt`` every ``every`` epochs, then ``last.pt``.

    ``metadata(row, best)`` gives the checkpoint's metadata. Every process takes part (the RNG states of
    all ranks are gathered); rank 0 writes.
    """

    def __init__(self, run_dir: Path, metadata: Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]], every: int = 0):
        self.run_dir, self.metadata, self.every = Path(run_dir), metadata, every

    def on_epoch_end(self, loop: TrainLoop, result: EpochResult) -> None:
        payload = loop.state.payload(loop.ctx)
        if not loop.ctx.is_main:
            return
        payload["metadata"] = self.metadata(result.row, loop.state.best)
        # best.pt and snapshots before last.pt: last.pt is the commit point for --resume
        if result.improved:
            save_checkpoint(self.run_dir / "best.pt", payload)
        if self.every and result.epoch % self.every == 0:
            save_checkpoint(self.run_dir / f"epoch_{result.epoch:03d}.pt", payload)
        save_checkpoint(self.run_dir / "last.pt", payload)


class MetricsWriter(Callback):
    """``metrics.json`` and ``metrics.csv`` rewritten after each epoch (rank 0)."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)

    def on_epoch_end(self, loop: TrainLoop, result: EpochResult) -> None:
        if loop.ctx.is_main:
            write_metrics(self.run_dir, loop.state.history)


class CurvePlotter(Callback):
    """``curves.png`` redrawn at most every ``interval_s`` seconds and after the last epoch (rank 0)."""

    def __init__(self, run_dir: Path, interval_s: float = PLOT_INTERVAL_S):
        self.path, self.interval_s = Path(run_dir) / "curves.png", interval_s
        self.last = time.time()

    def on_train_start(self, loop: TrainLoop) -> None:
        self.last = time.time()

    def on_epoch_end(self, loop: TrainLoop, result: EpochResult) -> None:
        if loop.ctx.is_main and (result.epoch == loop.epochs or time.time() - self.last >= self.interval_s):
            plot_curves(loop.state.history, self.path)
            self.last = time.time()
