"""Latency of one test clip (batch 1) with PyTorch and with the exported ONNX model under onnxruntime."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from skelar.engine.export import LogitsOnly, export_model_onnx
from skelar.runtime.onnx import import_onnxruntime

__all__ = ["median_ms", "torch_latency_ms", "onnx_latency_ms"]


def median_ms(fn: Callable[[], object], repeats: int = 20, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in milliseconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


@torch.no_grad()
def torch_latency_ms(model: nn.Module, shape: tuple[int, ...], repeats: int = 20) -> float:
    """Median ms of one ``(1, *shape)`` forward with PyTorch (eval mode, the current thread count)."""
    model = model.eval()
    x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))
    return median_ms(lambda: model(x), repeats)


def onnx_latency_ms(model: nn.Module, shape: tuple[int, ...], repeats: int = 20, threads: int = 1) -> tuple[float, str]:
    """Median ms of one ``(1, *shape)`` clip with onnxruntime on the CPU (``threads`` intra-op threads), and
    the exporter used; the model is exported as ``skelar export`` does, to a temporary file."""
    ort = import_onnxruntime()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        exporter = export_model_onnx(LogitsOnly(model).eval(), shape, path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
    name = sess.get_inputs()[0].name
    return median_ms(lambda: sess.run(None, {name: x}), repeats), exporter
