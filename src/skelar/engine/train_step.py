"""One optimiser step on one batch, as an object the training loop calls.

The loop knows nothing of how a step is made; :class:`TrainStep` does forward, loss, backward and
update in three overridable parts, so mixed precision (autocast in :meth:`TrainStep.forward`, a
``GradScaler`` in :meth:`TrainStep.backward` / :meth:`TrainStep.update`), gradient clipping or
accumulation are subclasses, not edits of the loop (see docs/engine.md, "Extending the training loop").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from torch import nn

from skelar.engine.losses import combine_losses, head_losses, split_output
from skelar.engine.train_state import TrainState

__all__ = ["StepOutput", "TrainStep"]


@dataclass
class StepOutput:
    """What one step produced: the total loss, the classification logits and the named loss parts."""

    loss: torch.Tensor
    logits: torch.Tensor
    parts: dict[str, torch.Tensor]


class TrainStep:
    """Forward, loss (with the model's auxiliary losses), backward and optimiser update of one batch."""

    def __init__(self, criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], aux_weights: Mapping[str, float],
                 cls_weight: float = 1.0):
        self.criterion = criterion
        self.aux_weights = dict(aux_weights)
        self.cls_weight = float(cls_weight)
        self.frozen_modules: list[nn.Module] = []  # kept in eval mode while training (a training stage's frozen parts)

    def train_mode(self, net: nn.Module) -> None:
        """Put ``net`` in training mode before an epoch's steps; :attr:`frozen_modules` stay in eval mode."""
        net.train()
        for m in self.frozen_modules:
            m.eval()

    def new_scaler(self) -> Any | None:
        """The gradient scaler this step needs (a ``torch.amp.GradScaler`` for mixed precision); None here.

        The trainer puts it in ``TrainState.scaler``, which checkpoints save and resume restores.
        """
        return None

    def forward(self, net: nn.Module, x: torch.Tensor) -> Any:
        """The model's output for ``x`` (logits, or a dict with ``logits``, ``aux_losses`` and/or ``aux_logits``)."""
        return net(x)

    def backward(self, state: TrainState, loss: torch.Tensor) -> None:
        """Gradients of ``loss`` (the optimiser's gradients were cleared before)."""
        loss.backward()

    def update(self, state: TrainState) -> None:
        """Apply the gradients."""
        state.optimizer.step()

    def __call__(self, state: TrainState, net: nn.Module, x: torch.Tensor, y: torch.Tensor, epoch: int, step: int) -> StepOutput:
        """Train on one batch (``epoch`` and ``step`` 0-based, for the divergence error); counts the step in ``state``."""
        out = self.forward(net, x)
        logits, aux = split_output(out)
        aux = {**aux, **head_losses(out, y, self.criterion)}  # extra classification heads (``aux_logits``)
        loss, parts = combine_losses(logits, aux, y, self.criterion, self.aux_weights, self.cls_weight)
        if not torch.isfinite(loss):
            raise RuntimeError(f"training diverged: loss is {float(loss)} at epoch {epoch + 1}, step {step + 1}; lower optim.lr")
        state.optimizer.zero_grad(set_to_none=True)
        self.backward(state, loss)
        self.update(state)
        state.global_step += 1
        return StepOutput(loss, logits, parts)
