"""The checkpoint file format: written atomically, readable with ``torch.load(weights_only=True)``, self-describing.

This is the store floor: it reads and writes checkpoint files and knows no model. Rebuilding the model a
checkpoint records is :func:`skelar.engine.checkpoint.model_from_checkpoint` (training runs) or
:func:`skelar.models.registry.load_pretrained` (shipped weights).

A checkpoint is a dict of tensors and plain Python values only::

    format, format_version
    model, optimizer, scheduler     state dicts (optimizer/scheduler absent in exported weights)
    epoch, global_step              completed epochs (1-based count) and optimiser steps
    rng                             python/numpy/torch(/cuda) generator states (see seeding.get_rng_state)
    best                            {metric, value, epoch} of the selection metric so far
    history                         per-epoch metric rows
    metadata                        model {name, kwargs}, layout {name, dict}, dataset {name, classes, ...},
                                    preprocessing {dataset, train_transforms, test_transforms, test_clips},
                                    metrics, config (resolved), skelar_version, created
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from skelar.layouts import adopt_layout, layout_from_dict
from skelar.store.atomic import naming, publish, temporary_beside

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "save_checkpoint", "load_checkpoint", "read_metadata", "ensure_layout", "to_plain",
           "torch_load_error"]

CHECKPOINT_FORMAT = "skelar-checkpoint"
CHECKPOINT_VERSION = 1


def to_plain(obj: Any, where: str = "value") -> Any:
    """Convert to types that ``weights_only`` loading accepts (dict/list/str/int/float/bool/None/tensor)."""
    if obj is None or isinstance(obj, (str, bool, int, float, torch.Tensor)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"{where}: cannot store a {type(obj).__name__} in a checkpoint (use plain values)")


def save_checkpoint(path: str | Path, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a temporary file in the same folder, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, **payload}
    fd, tmp = temporary_beside(path)  # (sweeps the temporaries a killed save of this file left)
    try:
        with naming(path), os.fdopen(fd, "wb") as f:
            try:
                torch.save(data, f)
            except RuntimeError as e:  # torch reports a failed write as "[enforce fail at inline_container.cc ...]"
                raise _write_error(e, path) from None
            f.flush()
            os.fsync(f.fileno())
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _write_error(e: RuntimeError, path: Path) -> BaseException:
    """An OSError naming ``path`` for torch's write failure (ENOSPC when the disk is (nearly) full)."""
    text = str(e)
    if "inline_container" not in text and "PytorchStreamWriter" not in text:
        return e
    cause = e.__cause__ or e.__context__
    if isinstance(cause, OSError) and cause.errno:
        return OSError(cause.errno, os.strerror(cause.errno), str(path))
    try:
        full = shutil.disk_usage(path.parent).free < (64 << 20)
    except OSError:
        full = False
    if full:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return OSError(errno.EIO, f"writing the checkpoint failed ({text.splitlines()[0][:120]})", str(path))


def run_checkpoint(run_dir: Path) -> Path:
    """A run directory's checkpoint: the one its report.json used, else best.pt, else last.pt."""
    names = ["best.pt", "last.pt"]
    report = run_dir / "report.json"
    if report.is_file():
        try:
            names.insert(0, str(json.loads(report.read_text()).get("checkpoint", "")))
        except (ValueError, AttributeError):
            pass
    for name in names:
        if name and (run_dir / name).is_file():
            return run_dir / name
    raise FileNotFoundError(f"{run_dir}: no best.pt or last.pt in this directory")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", mmap: bool = False) -> dict[str, Any]:
    """Read a skelar checkpoint with ``weights_only=True``; clear errors for missing or foreign files.

    A run directory stands for the checkpoint its ``report.json`` names (else ``best.pt``, else ``last.pt``).
    ``mmap=True`` maps the tensors instead of reading them (cheap when only the metadata is wanted).
    """
    path = Path(path)
    if path.is_dir():
        path = run_checkpoint(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
        raise ValueError(f"{path}: not a readable checkpoint ({torch_load_error(e)})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a skelar checkpoint (for reference weights use `skelar import-checkpoint`)")
    if "model" not in ckpt or "metadata" not in ckpt:
        raise ValueError(f"{path}: checkpoint lacks 'model' or 'metadata'")
    ckpt["path"] = str(path)
    return ckpt


REFUSED_ADVICE = ("skelar reads checkpoints with weights_only=True: tensors and plain values only, never code; "
                  "re-save the file as a plain state dict, e.g. torch.save(model.state_dict(), path), where it is trusted")


def torch_load_error(e: BaseException) -> str:
    """One line for a failed ``torch.load(weights_only=True)``: what was refused and what to do instead
    (torch's own text advises turning ``weights_only`` off, which would let the file run code)."""
    text = str(e).strip()
    if not text:
        return type(e).__name__
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    elif not text.startswith("Weights only load failed"):
        return text.splitlines()[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = [line for line in lines if "weights_only" not in line and not line.startswith(("Weights only load failed", "Check the documentation"))]
    what = detail[0].rstrip(".") if detail else "an object that is not a tensor or a plain value"
    return f"refused: {what}; {REFUSED_ADVICE}"


def read_metadata(path: str | Path) -> dict[str, Any]:
    """A checkpoint's ``metadata`` dict without reading its tensors (memory-mapped, ``weights_only``)."""
    return load_checkpoint(path, mmap=True)["metadata"]


def ensure_layout(meta: Mapping[str, Any], source: str = "checkpoint metadata") -> None:
    """Make the checkpoint's joint layout usable by name (no ``imports:`` module needed for a custom layout).

    A registered layout of the same name but another skeleton is an error naming ``source``.
    """
    layout = meta.get("layout") or {}
    if layout.get("name") and layout.get("dict"):
        adopt_layout(layout_from_dict(layout["dict"], source=source), source)
