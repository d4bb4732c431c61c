"""Classification losses (the ``loss.name`` registry) and the generic combination with a model's auxiliary losses.

A loss is registered with ``@LOSSES.register(name)`` on a builder ``(label_smoothing) -> criterion``,
where ``criterion(logits (N, K), target (N,)) -> scalar``. Auxiliary losses come from the model itself
(``{"logits": ..., "aux_losses": {...}}``) and are weighted by ``loss.aux_weights``.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from skelar.registry import Registry

__all__ = ["LOSSES", "SGNLabelSmoothingLoss", "build_loss", "split_output", "combine_losses"]

LOSSES: Registry[Callable[[float], Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]] = Registry("loss", "losses")


class SGNLabelSmoothingLoss(nn.Module):
    """SGN's label smoothing: target class ``1 - eps``, every other class ``eps / (K - 1)``.

    This differs from ``nn.CrossEntropyLoss(label_smoothing=eps)``, whose target gets ``1 - eps + eps/K``
    (reference-notes §1.4). Loss = batch mean of ``-sum(q * log_softmax(z))``.
    """

    def __init__(self, smoothing: float = 0.1):
        super().__init__()
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = float(smoothing)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        k = logits.shape[-1]
        logp = F.log_softmax(logits, dim=-1)
        q = torch.full_like(logp, self.smoothing / max(k - 1, 1))
        q.scatter_(-1, target.unsqueeze(-1), 1.0 - self.smoothing)
        return -(q * logp).sum(-1).mean()


@LOSSES.register("cross_entropy")
def _cross_entropy(label_smoothing: float = 0.0) -> nn.Module:
    """PyTorch's cross-entropy, with its own ``label_smoothing`` (target ``1 - eps + eps/K``)."""
    return nn.CrossEntropyLoss(label_smoothing=label_smoothing)


@LOSSES.register("sgn_label_smoothing")
def _sgn_label_smoothing(label_smoothing: float = 0.0) -> nn.Module:
    """SGN's label smoothing (target ``1 - eps``, others ``eps / (K - 1)``)."""
    return SGNLabelSmoothingLoss(label_smoothing)


def build_loss(name: str, label_smoothing: float = 0.0) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The registered loss ``name`` (``cross_entropy``, ``sgn_label_smoothing``, ...) with ``label_smoothing``."""
    return LOSSES.get(name, "loss.name")(label_smoothing)


def split_output(out: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A model returns logits, or ``{"logits": ..., "aux_losses": {name: scalar}}``."""
    if isinstance(out, torch.Tensor):
        return out, {}
    if isinstance(out, Mapping) and "logits" in out:
        aux = out.get("aux_losses") or {}
        if not isinstance(aux, Mapping):
            raise TypeError(f"model output 'aux_losses' must be a mapping of name -> scalar, got {type(aux).__name__}")
        return out["logits"], dict(aux)
    raise TypeError(f"a model must return a logits tensor or a dict with 'logits', got {type(out).__name__}")


def combine_losses(
    logits: torch.Tensor,
    aux_losses: Mapping[str, torch.Tensor],
    target: torch.Tensor,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    aux_weights: Mapping[str, float],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``total = criterion(logits) + sum_name aux_weights[name] * aux_losses[name]``; also returns each part.

    Every auxiliary loss the model returns needs a weight (0 ignores it), and every configured weight
    must name a loss the model returns, so typos cannot silently change training.
    """
    unweighted = sorted(set(aux_losses) - set(aux_weights))
    if unweighted:
        raise ValueError(
            f"loss.aux_weights: the model returns auxiliary loss(es) {unweighted} without a weight; "
            f"set loss.aux_weights.{unweighted[0]}=<weight> (0 to ignore)"
        )
    unknown = sorted(set(aux_weights) - set(aux_losses))
    if unknown:
        raise ValueError(
            f"loss.aux_weights: {unknown} not returned by the model (it returns: {sorted(aux_losses) or 'none'})"
        )
    main = criterion(logits, target)
    parts = {"cls": main}
    total = main
    for name in sorted(aux_losses):
        value = aux_losses[name]
        if value.dim() != 0:
            raise ValueError(f"auxiliary loss {name!r} must be a scalar, got shape {tuple(value.shape)}")
        parts[name] = value
        total = total + float(aux_weights[name]) * value
    return total, parts
