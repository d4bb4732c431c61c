"""Rebuilding a run's model from its checkpoint; the file format itself is :mod:`skelar.store.checkpoint`.

The format's functions are re-exported here, so ``skelar.engine.checkpoint`` keeps offering the whole
checkpoint API to engine code and users.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from skelar.models.registry import model_from_record
from skelar.store.checkpoint import CHECKPOINT_FORMAT, ensure_layout, load_checkpoint, read_metadata, save_checkpoint, to_plain

__all__ = ["CHECKPOINT_FORMAT", "save_checkpoint", "load_checkpoint", "read_metadata", "model_from_checkpoint", "to_plain"]


def model_from_checkpoint(path_or_ckpt: str | Path | Mapping[str, Any], map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model recorded in a checkpoint's metadata, load its weights, return ``(model.eval(), ckpt)``.

    The modules listed in the recorded config's ``imports`` are imported first (they register custom models).
    """
    ckpt = dict(path_or_ckpt) if isinstance(path_or_ckpt, Mapping) else load_checkpoint(path_or_ckpt, map_location)
    meta = ckpt["metadata"]
    if "name" not in (meta.get("model") or {}):
        raise ValueError(f"{ckpt.get('path', 'checkpoint')}: metadata does not name the model")
    for module in (meta.get("config") or {}).get("imports", []) or []:
        __import__(module)
    ensure_layout(meta)
    model = model_from_record(meta["model"], ckpt["model"], str(ckpt.get("path", "checkpoint")))
    return model.to(map_location).eval(), ckpt
