"""Rebuilding a run's model from its checkpoint; the file format itself is :mod:`skelar.store.checkpoint`.

The format's functions are re-exported here, so ``skelar.engine.checkpoint`` keeps offering the whole
checkpoint API to engine code and users.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from skelar.models.registry import model_from_record
from skelar.store.checkpoint import CHECKPOINT_FORMAT, ensure_layout, load_checkpoint, read_metadata, save_checkpoint, to_plain

log = logging.getLogger("skelar.checkpoint")

__all__ = ["CHECKPOINT_FORMAT", "save_checkpoint", "load_checkpoint", "read_metadata", "model_from_checkpoint", "to_plain"]


def _import_recorded_modules(meta: Mapping[str, Any]) -> list[str]:
    """Import the run config's ``imports`` (custom models); returns the ones that cannot be imported here.

    A missing module is only a warning: the joint layout is recorded in the checkpoint itself, so a module
    that merely registered a layout is not needed; a model it registered is reported when it is built.
    """
    missing = []
    for module in (meta.get("config") or {}).get("imports", []) or []:
        try:
            importlib.import_module(module)
        except ImportError as e:
            log.warning("the run imported %r, which cannot be imported here (%s); continuing without it", module, e)
            missing.append(str(module))
    return missing


def model_from_checkpoint(path_or_ckpt: str | Path | Mapping[str, Any], map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model recorded in a checkpoint's metadata, load its weights, return ``(model.eval(), ckpt)``.

    The modules listed in the recorded config's ``imports`` are imported first (they register custom models).
    """
    ckpt = dict(path_or_ckpt) if isinstance(path_or_ckpt, Mapping) else load_checkpoint(path_or_ckpt, map_location)
    meta = ckpt["metadata"]
    if "name" not in (meta.get("model") or {}):
        raise ValueError(f"{ckpt.get('path', 'checkpoint')}: metadata does not name the model")
    where = str(ckpt.get("path", "checkpoint"))
    missing = _import_recorded_modules(meta)
    ensure_layout(meta, f"{where}: metadata layout")
    try:
        model = model_from_record(meta["model"], ckpt["model"], where)
    except KeyError as e:  # an unknown model: most likely registered by a module that is not importable here
        hint = f" (the run imported {', '.join(missing)}, which cannot be imported here)" if missing else ""
        raise ValueError(f"{where}: {e.args[0] if e.args else e}{hint}") from None
    return model.to(map_location).eval(), ckpt
