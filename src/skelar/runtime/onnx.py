"""Predicting with an exported ``.onnx`` file and onnxruntime alone: no torch is imported on this path.

``skelar export`` stores the model's :class:`InferenceSpec` (class names, layout, test transforms,
clips, seed, dataset pipeline) as JSON under the ONNX metadata key ``skelar``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skelar.runtime.predictor import Predictor
from skelar.runtime.spec import InferenceSpec

__all__ = ["ONNX_METADATA_KEY", "ONNX_EXTRA_HINT", "load_onnx_predictor", "import_onnxruntime"]

ONNX_METADATA_KEY = "skelar"
ONNX_EXTRA_HINT = "pip install 'skelar[onnx]'"


def import_onnxruntime():
    """The onnxruntime module, or a one-line error naming the extra that installs it."""
    try:
        import onnxruntime
    except ImportError:
        raise RuntimeError(f"ONNX inference needs onnxruntime, which is not installed: {ONNX_EXTRA_HINT}") from None
    return onnxruntime


def load_onnx_predictor(path: str | Path, threads: int | None = None) -> Predictor:
    """A :class:`Predictor` running ``path`` with onnxruntime on the CPU (``threads``: intra-op threads)."""
    ort = import_onnxruntime()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {path}")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
    try:
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types for unreadable models
        raise ValueError(f"{path}: not a readable ONNX model ({(str(e).splitlines() or [type(e).__name__])[0][:200]})") from None
    meta = sess.get_modelmeta().custom_metadata_map
    if ONNX_METADATA_KEY not in meta:
        raise ValueError(f"{path}: no skelar metadata in this ONNX model (export it with `skelar export`)")
    spec = InferenceSpec.from_json(meta[ONNX_METADATA_KEY], str(path))
    name = sess.get_inputs()[0].name

    def forward(clips: np.ndarray) -> np.ndarray:
        return sess.run(None, {name: np.ascontiguousarray(clips, np.float32)})[0]

    return Predictor(spec, forward, str(path))
