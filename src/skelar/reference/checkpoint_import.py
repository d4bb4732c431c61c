"""Import a reference implementation's checkpoint (e.g. a microsoft/SGN ``.pth``) as a skelar checkpoint."""

from __future__ import annotations

import datetime as _dt
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

import skelar
from skelar.engine.checkpoint import model_from_checkpoint, save_checkpoint, to_plain
from skelar.layouts import get_layout
from skelar.store.checkpoint import torch_load_error
from skelar.models import convert_reference_state_dict, create_model
from skelar.models.profile import count_parameters, example_input

__all__ = ["import_reference_checkpoint", "load_reference_state_dict", "infer_num_classes"]


def load_reference_state_dict(path: str | Path) -> dict[str, Any]:
    """Read a reference checkpoint with ``torch.load(weights_only=True)`` (plain or wrapped state dict)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
        raise ValueError(f"{path}: not a readable PyTorch checkpoint of plain tensors ({torch_load_error(e)})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a dict of tensors (optionally wrapped), got {type(obj).__name__}")
    return obj


def infer_num_classes(model_name: str, state_dict: dict[str, torch.Tensor], **kwargs: Any) -> int:
    """Classes of converted weights: the row count of the model's last ``nn.Linear`` (its classifier)."""
    probe = create_model(model_name, **kwargs)
    linears = [name for name, m in probe.named_modules() if isinstance(m, nn.Linear)]
    key = f"{linears[-1]}.weight" if linears else None
    if key is None or key not in state_dict:
        raise ValueError(f"cannot infer the number of classes of {model_name!r} weights; pass num_classes")
    return int(state_dict[key].shape[0])


def _load_strict(model: nn.Module, state_dict: dict[str, torch.Tensor], what: str) -> None:
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as e:
        detail = " ".join(str(e).split())
        raise ValueError(f"{what}: weights do not fit the model ({detail})") from None


def import_reference_checkpoint(
    model_name: str,
    src: str | Path,
    dst: str | Path,
    num_classes: int | None = None,
    layout: str = "ntu25",
    **model_kwargs: Any,
) -> dict[str, Any]:
    """Convert the reference checkpoint ``src`` for ``model_name`` into a skelar checkpoint at ``dst``.

    The weights are mapped by the model's registered converter, loaded strictly into a fresh model,
    saved, then read back through the normal checkpoint loader and checked to give identical outputs.
    Returns a summary (path, model kwargs, parameter count).
    """
    src, dst = Path(src), Path(dst)
    state = convert_reference_state_dict(model_name, load_reference_state_dict(src))
    kwargs = {"layout": layout, **model_kwargs}
    kwargs["num_classes"] = num_classes if num_classes is not None else infer_num_classes(model_name, state, **kwargs)
    model = create_model(model_name, **kwargs)
    _load_strict(model, state, str(src))
    model.eval()
    lay = get_layout(layout)
    metadata = {
        "model": {"name": model_name, "kwargs": dict(model.skelar_kwargs)},
        "layout": {"name": lay.name, "dict": lay.to_dict()},
        "source": {"kind": "imported", "file": str(src.resolve()), "converter": model_name},
        "metrics": {},
        "skelar_version": skelar.__version__,
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    save_checkpoint(dst, {"model": model.state_dict(), "metadata": to_plain(metadata, "metadata")})
    # read it back as any skelar tool would and compare outputs
    reloaded, _ = model_from_checkpoint(dst)
    x = example_input(model, 2)
    with torch.no_grad():
        same = torch.equal(model(x), reloaded(x))
    if not same:
        raise RuntimeError(f"{dst}: the saved checkpoint does not reproduce the converted model's outputs")
    return {"path": str(dst), "model": model_name, "kwargs": dict(model.skelar_kwargs), "params": count_parameters(model), "keys": len(state)}
