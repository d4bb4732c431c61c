"""The optional ``video`` extra: OpenCV (video I/O, drawing) and mediapipe (pose estimation)."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["VideoExtraMissing", "require", "INSTALL_HINT"]

INSTALL_HINT = "pip install 'skelar[video]' (mediapipe wheels exist for Python 3.10-3.12)"


class VideoExtraMissing(RuntimeError):
    """A module of the ``video`` extra is not installed."""


def require(module: str) -> ModuleType:
    """Import ``module`` (``cv2`` or ``mediapipe``), or raise a one-line error naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise VideoExtraMissing(f"videos need the optional 'video' extra ({module} is not importable: {e}); install it with: {INSTALL_HINT}") from None
