"""ONNX export of a checkpoint's model: input ``x (N, C, T, V, M)`` with a dynamic batch, output ``logits (N, K)``."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from skelar import __version__
from skelar.engine.checkpoint import model_from_checkpoint
from skelar.engine.losses import split_output
from skelar.runtime import InferenceSpec
from skelar.runtime.onnx import ONNX_EXTRA_HINT, ONNX_METADATA_KEY, import_onnxruntime

__all__ = ["LogitsOnly", "export_model_onnx", "export_onnx", "require_onnx_export", "verify_onnx"]

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
        ort = import_onnxruntime()
    except RuntimeError:
        log.warning("onnxruntime is not installed; the exported model was not verified (%s)", ONNX_EXTRA_HINT)
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


def require_onnx_export() -> None:
    """A one-line error naming the extra when the exporter's packages are missing."""
    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeError(f"ONNX export needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed: {ONNX_EXTRA_HINT}")


def _write_metadata(path: Path, spec: InferenceSpec | None) -> None:
    """Store ``spec`` as JSON under the ONNX metadata key ``skelar`` (read back by :mod:`skelar.runtime.onnx`)."""
    import onnx

    m = onnx.load(str(path))
    props = {p.key: p.value for p in m.metadata_props}
    props["skelar_version"] = __version__
    if spec is not None:
        props[ONNX_METADATA_KEY] = spec.to_json()
    onnx.helper.set_model_props(m, props)
    onnx.save(m, str(path))


def export_model_onnx(model: nn.Module, shape: tuple[int, ...], out: str | Path, spec: InferenceSpec | None = None,
                      opset: int | None = None, exporter: str = "dynamo") -> str:
    """Export ``model`` (logits only; input ``x (N, *shape)`` with a dynamic batch) to ``out``; returns the exporter used.

    ``exporter="dynamo"`` uses the ``torch.export``-based exporter and falls back to the TorchScript one
    if that fails; ``"torchscript"`` uses the TorchScript exporter directly. ``spec`` goes into the metadata.
    The file is written next to ``out`` and moved into place only when complete.
    """
    require_onnx_export()
    if exporter not in ("dynamo", "torchscript"):
        raise ValueError(f"exporter must be dynamo or torchscript, not {exporter!r}")
    wrapped = model if isinstance(model, LogitsOnly) else LogitsOnly(model).eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    example = (torch.zeros((2, *shape)),)
    kw: dict[str, Any] = dict(input_names=["x"], output_names=["logits"])
    if opset is not None:
        kw["opset_version"] = opset
    try:
        if exporter == "dynamo":
            try:
                with _quiet_exporter():
                    torch.onnx.export(wrapped, example, str(tmp), dynamo=True, dynamic_shapes={"x": {0: torch.export.Dim("batch")}}, **kw)
            except Exception as e:  # noqa: BLE001 - any exporter failure: retry with the other exporter
                log.warning("torch.export-based ONNX export failed (%s); retrying with the TorchScript exporter", (str(e).splitlines() or [type(e).__name__])[0][:200])
                exporter = "torchscript"
        if exporter == "torchscript":
            with _quiet_exporter():
                torch.onnx.export(wrapped, example, str(tmp), dynamo=False, dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, **kw)
        _write_metadata(tmp, spec)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.data").unlink(missing_ok=True)
    return exporter


def export_onnx(checkpoint: str | Path, out: str | Path, opset: int | None = None, verify: bool = True, tolerance: float = 1e-4,
                exporter: str = "dynamo") -> dict[str, Any]:
    """Export a checkpoint's model to ``out`` with its preprocessing in the metadata, and check it with onnxruntime.

    The metadata (class names, layout, test transforms, clips, seed, dataset pipeline) lets
    ``skelar predict --onnx`` run the file without PyTorch.
    """
    require_onnx_export()
    model, ckpt = model_from_checkpoint(checkpoint, "cpu")
    wrapped = LogitsOnly(model).eval()
    shape = _input_shape(model, ckpt)
    spec = InferenceSpec.from_metadata(ckpt["metadata"])
    used = export_model_onnx(wrapped, shape, out, spec, opset, exporter)
    info: dict[str, Any] = {"path": str(out), "input_shape": ["N", *shape], "exporter": used, "max_scaled_diff": None}
    if verify:
        diff = verify_onnx(out, wrapped, shape)
        info["max_scaled_diff"] = diff
        if diff is not None and diff > tolerance:
            Path(out).unlink(missing_ok=True)
            raise RuntimeError(f"{out}: ONNX outputs differ from PyTorch by {diff:.2e} relative (> {tolerance:g}); file removed")
    return info
