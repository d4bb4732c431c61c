"""Model size and cost: parameter counts and FLOPs per sample (a multiply-add counts as 2 FLOPs)."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_parameters", "count_flops", "count_literal_flops", "count_train_flops", "example_input"]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared parameters counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def example_input(model: nn.Module, batch_size: int = 1, seed: int = 0) -> torch.Tensor:
    """A random ``(batch_size, *model.input_shape)`` tensor for a registered model."""
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError(f"{type(model).__name__} has no input_shape; pass an input explicitly")
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch_size, *shape, generator=gen)


def _batch_size(inputs: Any) -> int:
    first = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
    if not isinstance(first, torch.Tensor) or first.dim() == 0:
        raise ValueError("count_flops needs a batched tensor input (batch size in dim 0)")
    return int(first.shape[0])


def _call(model: nn.Module, inputs: Any) -> Any:
    return model(*inputs) if isinstance(inputs, (tuple, list)) else model(inputs)


def _logits(out: Any) -> torch.Tensor:
    return out["logits"] if isinstance(out, dict) else out


def _addmm_inplace_flops(self_shape, a_shape, b_shape, *args: Any, **kwargs: Any) -> int:
    (m, k), (_, n) = a_shape, b_shape
    return 2 * m * k * n


def _baddbmm_inplace_flops(self_shape, a_shape, b_shape, *args: Any, **kwargs: Any) -> int:
    (b, m, k), (_, _, n) = a_shape, b_shape
    return 2 * b * m * k * n


def _inplace_mapping() -> dict[Any, Any]:
    """FLOP formulas for in-place matrix products (``addmm_``, ``baddbmm_``), which the counter lacks."""
    aten = torch.ops.aten
    return {aten.addmm_: _addmm_inplace_flops, aten.baddbmm_: _baddbmm_inplace_flops}


def _count(fn: Callable[[], Any]) -> int:
    counter = FlopCounterMode(display=False, custom_mapping=_inplace_mapping())
    with counter:
        fn()
    return int(counter.get_total_flops())


def count_flops(model: nn.Module, inputs: Any) -> float:
    """Inference FLOPs per sample of ``model(inputs)`` in eval mode (what actually executes).

    Counted with :class:`torch.utils.flop_counter.FlopCounterMode` (matrix products and
    convolutions; 2 FLOPs per multiply-add; element-wise ops are not counted). Work that does not
    depend on the batch (e.g. embedding tables built once per forward) is spread over the batch.
    """
    n = _batch_size(inputs)
    was_training = model.training
    model.eval()
    try:
        try:
            with torch.no_grad():
                total = _count(lambda: _call(model, inputs))
        except AssertionError:  # the counter's module tracker fails when a module is called with a parameter under no_grad
            total = _count(lambda: _call(model, inputs))
    finally:
        model.train(was_training)
    return total / n


def count_literal_flops(model: nn.Module, inputs: Any) -> float | None:
    """Inference FLOPs per sample of the model's literal (paper/reference) formulation, or ``None``.

    Models whose default forward is an algebraic rewrite expose ``set_fast(bool)`` and a ``fast``
    attribute; this counts the ``fast=False`` form, which is what papers and reference code report.
    """
    if not hasattr(model, "set_fast") or not hasattr(model, "fast"):
        return None
    was_fast = bool(model.fast)
    model.set_fast(False)
    try:
        return count_flops(model, inputs)
    finally:
        model.set_fast(was_fast)


def count_train_flops(model: nn.Module, inputs: Any) -> float:
    """FLOPs per sample of one training forward + backward (sum of logits as the loss; optimiser not counted)."""
    n = _batch_size(inputs)
    was_training = model.training
    model.train()
    try:
        total = _count(lambda: _logits(_call(model, inputs)).sum().backward())
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return total / n
