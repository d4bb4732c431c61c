"""Rebuilding a run's model from its checkpoint; the file format itself is :mod:`skelar.store.checkpoint`.

The format's functions are re-exported here, so ``skelar.engine.checkpoint`` keeps offering the whole
checkpoint API to engine code and users.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from skelar.models.registry import list_models, model_from_record
from skelar.store.checkpoint import CHECKPOINT_FORMAT, ensure_layout, load_checkpoint, read_metadata, save_checkpoint, to_plain

__all__ = ["CHECKPOINT_FORMAT", "save_checkpoint", "load_checkpoint", "read_metadata", "model_from_checkpoint", "to_plain",
           "recorded_plugins", "missing_plugins_hint"]


def recorded_plugins(meta: Mapping[str, Any]) -> list[str]:
    """The plug-in modules a checkpoint records (its training config's ``imports``); never imported here."""
    mods = (meta.get("config") or {}).get("imports") or []
    return [str(m) for m in mods] if isinstance(mods, list) else []


def missing_plugins_hint(meta: Mapping[str, Any]) -> str:
    """What to pass when something a checkpoint names is not registered: its recorded plug-ins not yet imported."""
    missing = [m for m in recorded_plugins(meta) if m not in sys.modules]
    if not missing:
        return ""
    flags = " ".join(f"--import {m}" for m in missing)
    return (f"; the checkpoint records the plug-in module(s) {', '.join(missing)}, which skelar never imports on a "
            f"checkpoint's word: pass {flags} (in Python, import them first)")


def model_from_checkpoint(path_or_ckpt: str | Path | Mapping[str, Any], map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model recorded in a checkpoint's metadata, load its weights, return ``(model.eval(), ckpt)``.

    A checkpoint never causes an import: a model from a plug-in module must be registered before (the CLI's
    ``--import MODULE``); otherwise a one-line error names the model and the modules the checkpoint records.
    """
    ckpt = dict(path_or_ckpt) if isinstance(path_or_ckpt, Mapping) else load_checkpoint(path_or_ckpt, map_location)
    meta = ckpt["metadata"]
    where = str(ckpt.get("path", "checkpoint"))
    name = (meta.get("model") or {}).get("name")
    if not name:
        raise ValueError(f"{where}: metadata does not name the model")
    if name not in list_models():
        raise ValueError(f"{where}: model {name!r} is not registered{missing_plugins_hint(meta) or ' (see `skelar models`)'}")
    ensure_layout(meta, f"{where}: metadata layout")
    model = model_from_record(meta["model"], ckpt["model"], where)
    return model.to(map_location).eval(), ckpt
