"""ONNX export of a checkpoint's model: input ``x (N, C, T, V, M)`` with a dynamic batch, output ``logits (N, K)``."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from skelar.engine.checkpoint import model_from_checkpoint
from skelar.engine.losses import split_output

__all__ = ["LogitsOnly", "export_onnx", "verify_onnx"]

log = logging.getLogger("skelar.export")


class LogitsOnly(nn.Module):
    """Wraps a model so that it returns only the logits tensor (dropping auxiliary outputs)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return split_output(self.model(x))[0]


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporters' progress prints, INFO logs and deprecation warnings."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "onnxscript", "onnx_ir", "torch.export", "torch._export")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _input_shape(model: nn.Module, ckpt: dict[str, Any]) -> tuple[int, ...]:
    shape = getattr(model, "input_shape", None)
    if shape is None or any(s is None for s in shape):
        shape = (ckpt["metadata"].get("dataset") or {}).get("input_shape")
    if not shape:
        raise ValueError("cannot tell the model's input shape (no model.input_shape or metadata dataset.input_shape)")
    return tuple(int(s) for s in shape)


def verify_onnx(path: str | Path, wrapped: nn.Module, shape: tuple[int, ...], batches: tuple[int, ...] = (1, 3)) -> float | None:
    """Max of ``|onnxruntime - torch| / (1 + |torch|)`` over random inputs of several batch sizes.

    The error is scaled by the output's magnitude, so large logits (CTR-GCN's reach ~1e3) are judged
    relatively and small ones absolutely. None if onnxruntime is absent.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        log.warning("onnxruntime is not installed; the exported model was not verified")
        return None
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    g = torch.Generator().manual_seed(0)
    worst = 0.0
    for n in batches:
        x = torch.randn((n, *shape), generator=g)
        with torch.no_grad():
            ref = wrapped(x).numpy()
        got = sess.run(None, {name: x.numpy()})[0]
        if got.shape != ref.shape:
            raise RuntimeError(f"{path}: ONNX output shape {got.shape} != torch {ref.shape} for batch {n}")
        worst = max(worst, float((np.abs(got - ref) / (1.0 + np.abs(ref))).max()))
    return worst


def export_onnx(checkpoint: str | Path, out: str | Path, opset: int | None = None, verify: bool = True, tolerance: float = 1e-4) -> dict[str, Any]:
    """Export to ``out`` (dynamic batch axis) and, when onnxruntime is available, check the outputs match.

    Uses the ``torch.export``-based exporter; falls back to the TorchScript exporter if that fails.
    """
    model, ckpt = model_from_checkpoint(checkpoint, "cpu")
    wrapped = LogitsOnly(model).eval()
    shape = _input_shape(model, ckpt)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    example = (torch.zeros((2, *shape)),)
    kw: dict[str, Any] = dict(input_names=["x"], output_names=["logits"])
    if opset is not None:
        kw["opset_version"] = opset
    exporter = "dynamo"
    try:
        with _quiet_exporter():
            torch.onnx.export(wrapped, example, str(out), dynamo=True, dynamic_shapes={"x": {0: torch.export.Dim("batch")}}, **kw)
    except Exception as e:  # noqa: BLE001 - any exporter failure: retry with the other exporter
        log.warning("torch.export-based ONNX export failed (%s); retrying with the TorchScript exporter", (str(e).splitlines() or [type(e).__name__])[0][:200])
        exporter = "torchscript"
        with _quiet_exporter():
            torch.onnx.export(wrapped, example, str(out), dynamo=False, dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, **kw)
    info: dict[str, Any] = {"path": str(out), "input_shape": ["N", *shape], "exporter": exporter, "max_scaled_diff": None}
    if verify:
        diff = verify_onnx(out, wrapped, shape)
        info["max_scaled_diff"] = diff
        if diff is not None and diff > tolerance:
            raise RuntimeError(f"{out}: ONNX outputs differ from PyTorch by {diff:.2e} relative (> {tolerance:g})")
    return info
