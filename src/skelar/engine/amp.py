"""Mixed precision training (``train.amp``): autocast for the forward pass, a gradient scaler for fp16.

* ``bf16``: ``torch.autocast`` with bfloat16 (CPUs with AVX-512 BF16 / AMX, and CUDA); no scaler
  is needed (bfloat16 has float32's exponent range);
* ``fp16``: autocast with float16 and a ``torch.amp.GradScaler`` (dynamic loss scaling), whose state
  is part of the checkpoint, so resuming stays exact;
* ``auto``: bf16 on CPU, fp16 on CUDA; ``off``: float32 (the default).

Matrix products and convolutions run in the low precision; the model's outputs are cast back to
float32 before the loss, so losses, their reductions and the optimiser work in float32. Weights and
BatchNorm running statistics stay float32 (autocast casts inputs per operation, not parameters).
Validation and testing run in float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Mapping

import torch
from torch import nn

from skelar.engine.train_state import TrainState
from skelar.engine.train_step import TrainStep

__all__ = ["AMP_MODES", "AmpSetting", "resolve_amp", "AmpTrainStep", "build_train_step"]

AMP_MODES = ("off", "auto", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class AmpSetting:
    """A resolved mixed-precision choice: where autocast runs, in which dtype, with or without a scaler."""

    device_type: str
    dtype: torch.dtype
    grad_scaler: bool

    @property
    def mode(self) -> str:
        return "bf16" if self.dtype == torch.bfloat16 else "fp16"

    def autocast(self) -> ContextManager[Any]:
        return torch.autocast(self.device_type, dtype=self.dtype)

    def record(self) -> dict[str, Any]:
        """What runs and checkpoints store about it."""
        return {"mode": self.mode, "dtype": str(self.dtype).removeprefix("torch."), "device_type": self.device_type, "grad_scaler": self.grad_scaler}


def resolve_amp(mode: str, device: torch.device) -> AmpSetting | None:
    """The setting for ``train.amp`` = ``mode`` on ``device`` (None for ``off``)."""
    if mode not in AMP_MODES:
        raise ValueError(f"train.amp must be one of {', '.join(AMP_MODES)}, got {mode!r}")
    if mode == "off":
        return None
    device_type = device.type
    if device_type not in ("cpu", "cuda"):
        raise ValueError(f"train.amp: mixed precision runs on cpu or cuda, not {device_type}")
    if mode == "auto":
        mode = "bf16" if device_type == "cpu" else "fp16"
    if mode == "bf16" and device_type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("train.amp: bf16 is not supported by this GPU; use fp16")
    return AmpSetting(device_type, _DTYPES[mode], grad_scaler=mode == "fp16")


def _to_float(out: Any) -> Any:
    """Floating tensors of a model output (a tensor or a dict of tensors / dicts) as float32."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, Mapping):
        return {k: _to_float(v) for k, v in out.items()}
    return out


class AmpTrainStep(TrainStep):
    """:class:`TrainStep` with the forward pass under autocast and, for fp16, gradient scaling."""

    def __init__(self, criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], aux_weights: Mapping[str, float], amp: AmpSetting):
        super().__init__(criterion, aux_weights)
        self.amp = amp

    def new_scaler(self) -> Any | None:
        return torch.amp.GradScaler(self.amp.device_type) if self.amp.grad_scaler else None

    def forward(self, net: nn.Module, x: torch.Tensor) -> Any:
        with self.amp.autocast():
            out = net(x)
        return _to_float(out)

    def backward(self, state: TrainState, loss: torch.Tensor) -> None:
        (state.scaler.scale(loss) if state.scaler is not None else loss).backward()

    def update(self, state: TrainState) -> None:
        if state.scaler is None:
            state.optimizer.step()
            return
        state.scaler.step(state.optimizer)  # skipped when the scaled gradients overflowed
        state.scaler.update()


def build_train_step(criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], aux_weights: Mapping[str, float], amp: AmpSetting | None) -> TrainStep:
    """The training step for a run: plain float32, or mixed precision per ``amp``."""
    return TrainStep(criterion, aux_weights) if amp is None else AmpTrainStep(criterion, aux_weights, amp)

