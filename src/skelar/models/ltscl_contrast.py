"""LTSCL's contrastive loss on the predicted frames, against momentum keys and a memory queue.

Two named variants (docs/models.md, "LTSCL"):

* ``"faithful"`` — as released (``processor/recognition.py: loss_infoNCE``): similarities are
  ``exp(+MSE)`` of batch-mean scalars, ``loss = -log(e^{MSE(q,k)} / (e^{MSE(q,k)} + Σ_i e^{MSE(q, Q_i)}))``
  over the ``K/B - 1`` queue chunks ``Q_i`` of ``B`` rows; minimising it pushes the positive pair
  *apart*. The queue starts as ``randn`` normalised along its first axis (not keys), and the write
  pointer is advanced before the keys are written.
* ``"corrected"`` — InfoNCE per sample: similarity = negative mean squared distance / temperature,
  negatives are the keys actually stored in the queue (an empty queue contributes none), the keys are
  written at the pointer, which then advances.

Keys are enqueued only in training mode (after the loss has used the queue).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PredictionContrast", "CONTRAST_VARIANTS"]

CONTRAST_VARIANTS = ("faithful", "corrected")


class PredictionContrast(nn.Module):
    """``forward(query, key) -> scalar loss`` for ``(B, *shape)`` predictions; holds the queue."""

    def __init__(self, shape: tuple[int, ...], queue_size: int = 32768, variant: str = "corrected", temperature: float = 0.1) -> None:
        super().__init__()
        if variant not in CONTRAST_VARIANTS:
            raise ValueError(f"contrast variant must be one of {CONTRAST_VARIANTS}, got {variant!r}")
        if queue_size < 1 or temperature <= 0:
            raise ValueError(f"need queue_size >= 1 and temperature > 0, got {queue_size}, {temperature}")
        self.variant, self.temperature, self.queue_size = variant, float(temperature), int(queue_size)
        if variant == "faithful":
            queue = F.normalize(torch.randn(queue_size, *shape), dim=0)
        else:
            queue = torch.zeros(queue_size, *shape)
        self.register_buffer("queue", queue)
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("queue_count", torch.zeros((), dtype=torch.long))

    def _faithful(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        b = q.shape[0]
        chunks = self.queue_size // b - 1
        pos = torch.exp(F.mse_loss(q, k))
        neg = q.new_zeros(())
        if chunks > 0:
            bank = self.queue[: chunks * b].detach().view(chunks, b, *q.shape[1:])
            neg = torch.exp(((q.unsqueeze(0) - bank) ** 2).flatten(1).mean(1)).sum()
        return -torch.log(1e-12 + pos / (neg + pos))

    def _corrected(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        qf, kf = q.flatten(1), k.flatten(1)
        pos = -((qf - kf) ** 2).mean(1, keepdim=True)
        n = int(self.queue_count)
        if n:
            bank = self.queue[:n].detach().flatten(1)
            neg = -(qf.pow(2).mean(1, keepdim=True) - 2 * qf @ bank.t() / qf.shape[1] + bank.pow(2).mean(1)[None])
            logits = torch.cat([pos, neg], 1)
        else:
            logits = pos
        logits = logits / self.temperature
        return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        b = min(len(keys), self.queue_size)
        keys = keys[:b].detach()
        ptr = int(self.queue_ptr)
        if self.variant == "faithful":
            ptr = (ptr + b) % self.queue_size  # as released: advance, then write
            self.queue_ptr.fill_(ptr)
        idx = (torch.arange(b, device=keys.device) + ptr) % self.queue_size
        # a new tensor, not an in-place write: the loss of this step still holds the old queue
        self.queue = self.queue.index_copy(0, idx, keys.to(self.queue.dtype))
        if self.variant == "corrected":
            self.queue_ptr.fill_((ptr + b) % self.queue_size)
            self.queue_count.fill_(min(int(self.queue_count) + b, self.queue_size))

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        loss = self._faithful(query, key) if self.variant == "faithful" else self._corrected(query, key)
        if self.training:
            self.enqueue(key)
        return loss
