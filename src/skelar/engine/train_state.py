"""Everything a resumed run needs, held, saved and restored as one unit."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from skelar.engine.distributed import DistContext, all_gather_object
from skelar.engine.seeding import get_rng_state, seed_everything, set_rng_state
from skelar.store.checkpoint import to_plain

__all__ = ["TrainState", "new_best"]

log = logging.getLogger("skelar.train")


def new_best() -> dict[str, Any]:
    """The selection record before any validation: ``{metric: val_top1, value: None, epoch: None}``."""
    return {"metric": "val_top1", "value": None, "epoch": None}


@dataclass
class TrainState:
    """Model, optimiser, scheduler, gradient scaler, counters, history and best score of a training run.

    ``scaler`` is a ``torch.amp.GradScaler`` when mixed precision is on, else None. ``extra`` holds the
    state of add-ons (an EMA copy of the weights, a training stage, ...) as plain values and tensors; it
    is saved only when not empty. :meth:`payload` and :meth:`restore` are the checkpoint's training part
    (the RNG states of every process included), so a resumed run continues exactly where it stopped.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any | None = None
    epoch: int = 0  # completed epochs
    global_step: int = 0  # optimiser steps taken
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=new_best)
    extra: dict[str, Any] = field(default_factory=dict)

    def payload(self, ctx: DistContext) -> dict[str, Any]:
        """The checkpoint entries of this state, with this moment's RNG states.

        Every process must call it (the RNG states of all ranks are gathered); only rank 0 writes the result.
        """
        rng = get_rng_state()
        rng_ranks = all_gather_object(rng, ctx) if ctx.enabled else None
        out: dict[str, Any] = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "global_step": self.global_step,
            "rng": rng,
            **({"rng_ranks": rng_ranks} if rng_ranks is not None else {}),
            "best": dict(self.best),
            "history": to_plain(self.history, "history"),
        }
        if self.scaler is not None:
            out["scaler"] = self.scaler.state_dict()
        if self.extra:
            out["extra"] = to_plain(self.extra, "extra")
        return out

    def restore(self, ckpt: Mapping[str, Any], ctx: DistContext, seed: int) -> None:
        """Load a checkpoint written from :meth:`payload` (weights, optimiser, scheduler, counters, RNG states)."""
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if self.scaler is not None and "scaler" in ckpt:
            self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.global_step = int(ckpt["epoch"]), int(ckpt["global_step"])
        self.history, self.best = list(ckpt["history"]), dict(ckpt["best"])
        self.extra = dict(ckpt.get("extra") or {})
        _resume_rng(ckpt, ctx, seed)


def _resume_rng(resume: Mapping[str, Any], ctx: DistContext, seed: int) -> None:
    """Each process's RNG state from the checkpoint; with another process count, rank 0's (others reseed)."""
    per_rank = resume.get("rng_ranks")
    if per_rank is not None and len(per_rank) == ctx.world_size:
        set_rng_state(per_rank[ctx.rank])
        return
    if ctx.is_main:
        set_rng_state(resume["rng"])
    else:
        seed_everything(seed + ctx.rank + 1000 * int(resume["epoch"]))
    if ctx.enabled or per_rank is not None:
        log.warning("resuming with %d process(es) a run saved with %d: batches are the same, random layers (dropout) are not", ctx.world_size, len(per_rank or [0]))
