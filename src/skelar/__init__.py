"""skelar: skeleton-based human action recognition."""

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "predict", "load_predictor"]


def __getattr__(name: str) -> Any:
    # imported on first use: ``import skelar`` stays cheap and the ONNX path never imports torch
    if name in ("predict", "load_predictor"):
        from skelar import api

        return getattr(api, name)
    raise AttributeError(f"module 'skelar' has no attribute {name!r}")
