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

__all__ = ["LOSSES", "SGNLabelSmoothingLoss", "SoftTargetCrossEntropy", "build_loss", "split_output", "head_losses", "combine_losses", "active_losses"]

# name -> builder(**loss options) -> criterion; the options are the loss section's keys (label_smoothing,
# target_on, target_off); a builder takes the ones it uses and ignores the rest (``**_``)
LOSSES: Registry[Callable[..., Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]] = Registry("loss", "losses")


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


class SoftTargetCrossEntropy(nn.Module):
    """Cross-entropy against fixed soft targets: ``on`` for the true class, ``off`` for every other class.

    The targets are not normalised (imdar's loaders use 0.8 / 0.1, which sum to 1.7 for 10 classes and
    6.7 for 60, reference-notes §4.3); the loss is the batch mean of ``-sum(q * log_softmax(z))``.
    """

    def __init__(self, on: float = 0.8, off: float = 0.1):
        super().__init__()
        if on < 0 or off < 0:
            raise ValueError(f"soft targets must be >= 0, got on={on}, off={off}")
        self.on, self.off = float(on), float(off)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        q = torch.full_like(logits, self.off)
        q.scatter_(-1, target.unsqueeze(-1), self.on)
        return -(q * F.log_softmax(logits, dim=-1)).sum(-1).mean()


@LOSSES.register("cross_entropy")
def _cross_entropy(label_smoothing: float = 0.0, **_: Any) -> nn.Module:
    """PyTorch's cross-entropy, with its own ``label_smoothing`` (target ``1 - eps + eps/K``)."""
    return nn.CrossEntropyLoss(label_smoothing=label_smoothing)


@LOSSES.register("sgn_label_smoothing")
def _sgn_label_smoothing(label_smoothing: float = 0.0, **_: Any) -> nn.Module:
    """SGN's label smoothing (target ``1 - eps``, others ``eps / (K - 1)``)."""
    return SGNLabelSmoothingLoss(label_smoothing)


@LOSSES.register("soft_target_ce")
def _soft_target_ce(target_on: float = 0.8, target_off: float = 0.1, **_: Any) -> nn.Module:
    """Cross-entropy against fixed un-normalised targets ``target_on`` / ``target_off`` (imdar's)."""
    return SoftTargetCrossEntropy(target_on, target_off)


def build_loss(name: str, label_smoothing: float = 0.0, target_on: float = 0.8, target_off: float = 0.1) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The registered loss ``name`` (``cross_entropy``, ``sgn_label_smoothing``, ``soft_target_ce``, ...)
    built with the loss section's options."""
    return LOSSES.get(name, "loss.name")(label_smoothing=label_smoothing, target_on=target_on, target_off=target_off)


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


def head_losses(out: Any, target: torch.Tensor, criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> dict[str, torch.Tensor]:
    """The criterion on each extra classification head a model returns in ``out["aux_logits"]`` (``{name: logits}``).

    Returned as auxiliary losses named ``head_<name>``, weighted by ``loss.aux_weights`` like any other.
    """
    heads = out.get("aux_logits") if isinstance(out, Mapping) else None
    if not heads:
        return {}
    if not isinstance(heads, Mapping):
        raise TypeError(f"model output 'aux_logits' must be a mapping of name -> logits, got {type(heads).__name__}")
    return {f"head_{name}": criterion(logits, target) for name, logits in heads.items()}


def combine_losses(
    logits: torch.Tensor,
    aux_losses: Mapping[str, torch.Tensor],
    target: torch.Tensor,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    aux_weights: Mapping[str, float],
    cls_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``total = cls_weight * criterion(logits) + sum_name aux_weights[name] * aux_losses[name]``; also returns each part.

    Every auxiliary loss the model returns needs a weight (0 ignores it), and every non-zero weight
    must name a loss the model returns, so typos cannot silently change training (a model may skip
    a loss whose weight is 0: see :func:`active_losses`).
    """
    unweighted = sorted(set(aux_losses) - set(aux_weights))
    if unweighted:
        raise ValueError(
            f"loss.aux_weights: the model returns auxiliary loss(es) {unweighted} without a weight; "
            f"set loss.aux_weights.{unweighted[0]}=<weight> (0 to ignore)"
        )
    unknown = sorted(n for n in set(aux_weights) - set(aux_losses) if aux_weights[n] != 0)
    if unknown:
        raise ValueError(
            f"loss.aux_weights: {unknown} not returned by the model (it returns: {sorted(aux_losses) or 'none'})"
        )
    main = criterion(logits, target)
    parts = {"cls": main}
    total = main if cls_weight == 1.0 else float(cls_weight) * main
    for name in sorted(aux_losses):
        value = aux_losses[name]
        if value.dim() != 0:
            raise ValueError(f"auxiliary loss {name!r} must be a scalar, got shape {tuple(value.shape)}")
        parts[name] = value
        total = total + float(aux_weights[name]) * value
    return total, parts


def active_losses(aux_weights: Mapping[str, float], cls_weight: float = 1.0) -> set[str]:
    """Names of the losses with a non-zero weight (``"cls"`` for the classification loss).

    A model that defines ``set_active_losses(names)`` is told these, so it can skip the rest.
    """
    return {n for n, w in aux_weights.items() if w != 0} | ({"cls"} if cls_weight != 0 else set())
