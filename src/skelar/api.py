"""``skelar.api.predict``: top-k classes for samples given as paths or arrays, with a checkpoint, shipped weights or ONNX file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

__all__ = ["predict", "load_predictor"]


def load_predictor(model: Any, weights: str | None = None, device: str = "auto", clips: int | None = None):
    """A :class:`skelar.runtime.Predictor` for ``model``: a checkpoint or run directory, an exported ``.onnx``
    file (onnxruntime; PyTorch is not imported), a registered model name with ``weights`` (a shipped tag),
    or a model from ``create_model(name, weights=tag)`` (used as it is in memory, with its weights' preprocessing)."""
    from skelar.runtime.predictor import Predictor

    if isinstance(model, Predictor):
        return model
    if weights is None and isinstance(model, (str, Path)) and str(model).endswith(".onnx"):
        from skelar.runtime.onnx import load_onnx_predictor

        pred = load_onnx_predictor(model)
        return Predictor(pred.spec.with_overrides(test_clips=clips), pred.forward, pred.source) if clips else pred
    from skelar.engine.inference import load_predictor as load_torch

    if hasattr(model, "skelar_weights"):
        from skelar.engine.inference import module_predictor
        from skelar.store.checkpoint import read_metadata

        return module_predictor(model, read_metadata(model.skelar_weights["path"]), device, clips)

    if weights is not None:
        from skelar.models.weights import pretrained_path

        model = pretrained_path(str(model), weights)
    if not isinstance(model, (str, Path)):
        raise TypeError(f"model must be a checkpoint path, an .onnx path, a model name with weights=TAG, a model from "
                        f"create_model(name, weights=TAG), or a Predictor; got {type(model).__name__}")
    return load_torch(model, device, clips)


def predict(
    model: Any,
    inputs: Any,
    weights: str | None = None,
    top_k: int = 5,
    clips: int | None = None,
    device: str = "auto",
    select: Sequence[str] | None = None,
    trust_pickle: bool = False,
    axes: str | None = None,
) -> list[dict[str, Any]]:
    """Top-``k`` classes (names and probabilities) for each sample of ``inputs``.

    ``inputs``: a path or array, a list of them, or ``{name: array}``; arrays are ``(C, T, V, M)`` or
    ``(T, V, C)`` (or in the order ``axes``, e.g. ``"MTVC"``) in the model's layout. Paths may be any format ``skelar predict`` reads. An unnamed
    array is named by its content, so its test clips (seeded by the name) do not depend on the other
    inputs. ``model``: see :func:`load_predictor`. Returns one row per sample (``top`` = ``[{index,
    class, prob}]``, plus ``label``/``label_class`` when the source knows the true class).

    >>> from skelar.api import predict
    >>> predict("sgn", np.zeros((3, 40, 20, 1), np.float32), weights="nwucla")[0]["top"][0]["class"]  # doctest: +SKIP
    """
    return load_predictor(model, weights, device, clips).predict(inputs, top_k, select, trust_pickle, axes)
