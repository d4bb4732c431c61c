"""Data-parallel training over several processes (one per GPU, or CPU processes), started by ``torchrun``.

``torchrun --nproc_per_node=N -m skelar train -c CONFIG`` sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; :func:`init_distributed` then joins the process group (NCCL on CUDA, Gloo on CPU)
and gives each process its device. The rest of this module holds the few collective steps the
trainer needs: summing statistics, gathering evaluation shards (every sample exactly once, in dataset
order), copying rank 0's buffers, and handing rank 0's objects (run directory, report) to the others.
Without ``WORLD_SIZE`` > 1 every helper is a no-op, so the single-process path is unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from skelar.engine.evaluate import EvalResult
from skelar.engine.seeding import resolve_device

__all__ = [
    "DistContext", "init_distributed", "shutdown", "all_reduce_sums", "gather_eval", "merge_eval_shards",
    "broadcast_object", "broadcast_buffers", "all_gather_object", "barrier",
]


@dataclass(frozen=True)
class DistContext:
    """This process's place in the group (``world_size == 1``: not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # True when :func:`init_distributed` created the process group

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def init_distributed(device_name: str) -> tuple[DistContext, torch.device]:
    """The process context and device for config ``device``; joins the process group under ``torchrun``.

    With ``WORLD_SIZE`` > 1, ``auto``/``cuda`` give each process ``cuda:LOCAL_RANK`` (NCCL) when CUDA is
    available, else the CPU (Gloo); ``cpu`` forces Gloo on the CPU; a numbered ``cuda:N`` is refused
    because each process picks its own GPU.
    """
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return DistContext(), resolve_device(device_name)
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if device_name.startswith("cuda:"):
        raise ValueError(f"device: {device_name!r} names one GPU, but under torchrun each process uses cuda:LOCAL_RANK; use device: auto or cuda")
    if device_name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: 'cuda' requested but CUDA is not available (use device: auto or cpu)")
    if device_name in ("auto", "cuda") and torch.cuda.is_available():
        if local >= torch.cuda.device_count():
            raise RuntimeError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA device(s); start at most that many processes per node")
        device, backend = torch.device("cuda", local), "nccl"
        torch.cuda.set_device(device)
    elif device_name in ("auto", "cpu"):
        device, backend = torch.device("cpu"), "gloo"
    else:
        raise ValueError(f"device: {device_name!r} is not supported with torchrun (use auto, cuda or cpu)")
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend)
    if dist.get_world_size() != world or dist.get_rank() != rank:
        raise RuntimeError(f"process group has rank {dist.get_rank()}/{dist.get_world_size()} but the environment says {rank}/{world}")
    return DistContext(rank, world, local, owns), device


def shutdown(ctx: DistContext) -> None:
    """Leave the process group if :func:`init_distributed` created it."""
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    """Wait for every process (a no-op in a single-process run)."""
    if ctx.enabled:
        dist.barrier()


def _reduce_device(device: torch.device) -> torch.device:
    return device if dist.get_backend() == "nccl" else torch.device("cpu")


def all_reduce_sums(values: Sequence[float], ctx: DistContext, device: torch.device) -> list[float]:
    """Element-wise sums of ``values`` over all processes (float64)."""
    if not ctx.enabled:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_reduce_device(device))
    dist.all_reduce(t)
    return t.cpu().tolist()


def all_gather_object(obj: Any, ctx: DistContext) -> list[Any]:
    """Every process's ``obj``, in rank order (``[obj]`` when not distributed)."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every process."""
    if not ctx.enabled:
        return obj
    box = [obj if ctx.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_buffers(module: nn.Module, ctx: DistContext) -> None:
    """Copy rank 0's buffers (e.g. BatchNorm running statistics) to every process.

    After a training step each process has updated its running statistics on its own shard; before
    evaluating, all processes take rank 0's, which are the ones its checkpoint saves.
    """
    if not ctx.enabled:
        return
    for buf in module.buffers():
        dist.broadcast(buf.data, src=0)


def merge_eval_shards(shards: Sequence[tuple[EvalResult, np.ndarray]]) -> EvalResult:
    """One :class:`EvalResult` in dataset order from per-process ``(result, positions)`` shards.

    ``positions`` are the shard's rows' positions in the evaluated set; together the shards must cover
    every position exactly once (an error otherwise), so no sample is dropped or counted twice.
    """
    parts = [(r, np.asarray(p, dtype=np.int64)) for r, p in shards if len(p)]
    if not parts:
        return shards[0][0]
    for r, p in parts:
        if len(r.labels) != len(p):
            raise RuntimeError(f"evaluation shard scored {len(r.labels)} samples for {len(p)} positions")
    pos = np.concatenate([p for _, p in parts])
    if not np.array_equal(np.sort(pos), np.arange(len(pos))):
        raise RuntimeError(f"evaluation shards do not cover positions 0..{len(pos) - 1} exactly once")
    order = np.argsort(pos, kind="stable")
    counts = [len(p) for _, p in parts]
    losses = [r.loss for r, _ in parts]
    loss = None if any(v is None for v in losses) else float(sum(v * n for v, n in zip(losses, counts)) / sum(counts))
    return EvalResult(
        np.concatenate([r.scores for r, _ in parts])[order],
        np.concatenate([r.labels for r, _ in parts])[order],
        np.concatenate([r.indices for r, _ in parts])[order],
        loss,
    )


def gather_eval(result: EvalResult, positions: np.ndarray, ctx: DistContext) -> EvalResult:
    """Every process's evaluation shard merged (:func:`merge_eval_shards`), on every process."""
    if not ctx.enabled:
        return result
    return merge_eval_shards(all_gather_object((result, np.asarray(positions, dtype=np.int64)), ctx))
