"""Shippable weights from a training run: fp32 model weights + metadata, no optimiser/RNG/history.

The output ``<model>-<tag>.pt`` is a skelar checkpoint that :mod:`skelar.models.weights` finds by name;
a ``<model>-<tag>.json`` card beside it repeats the provenance in readable form (with the file's SHA-256).
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import json
from pathlib import Path
from typing import Any

import skelar
from skelar.engine.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from skelar.engine.run_dir import recorded_commands, write_json

__all__ = ["export_weights"]

_TEST_KEYS = ("protocol", "num_samples", "clips", "top1", "top5", "mean_class_accuracy")


def _tag_from_name(out: Path, model: str) -> str:
    from skelar.models.weights import TAG_PATTERN

    tag = out.stem.removeprefix(f"{model}-")
    if out.suffix != ".pt" or not out.stem.startswith(f"{model}-") or not TAG_PATTERN.match(tag):
        raise ValueError(f"{out}: name shipped weights '{model}-TAG.pt' (TAG of letters, digits, '_', '.', '-'), e.g. {model}-nwucla.pt")
    return tag


def _test_from_report(report_path: Path, checkpoint: Path) -> dict[str, Any]:
    """Test metrics from a ``skelar test`` report of ``checkpoint`` (split ``test``), checked to match."""
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{report_path}: not a readable test report ({e})") from None
    if not isinstance(report, dict) or report.get("split") != "test" or "top1" not in report:
        raise ValueError(f"{report_path}: not a `skelar test` report of the test split")
    scored = Path(str(report.get("checkpoint", "")))
    if not scored.is_file() or scored.resolve() != checkpoint.resolve():
        raise ValueError(f"{report_path}: reports on {scored}, not on {checkpoint}")
    return {k: report[k] for k in _TEST_KEYS if k in report}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_weights(
    checkpoint: str | Path,
    out: str | Path,
    description: str | None = None,
    train_command: str | None = None,
    command: str | None = None,
    test_report: str | Path | None = None,
) -> dict[str, Any]:
    """Write ``checkpoint``'s model as shippable weights ``out`` (``<model>-<tag>.pt``) and its JSON card.

    The checkpoint must carry a test result (a finished run's selected checkpoint, or its run directory).
    Recorded under ``metadata.pretrained``: model, tag, description, seed, the test metrics, the training
    command (``train_command``, default: the first line of the run's ``command.txt``, else ``skelar train -c <run>/config.yaml``), the export ``command``, the
    source checkpoint and epoch. Returns that record plus ``path``, ``card``, ``bytes`` and ``sha256``.

    ``test_report``: the ``report.json`` of a ``skelar test`` run of this very checkpoint on the test
    split, for a checkpoint that carries no test result itself (e.g. ``last.pt`` of a run that selected
    another epoch); its metrics are recorded instead.
    """
    ckpt = load_checkpoint(checkpoint)
    src = Path(ckpt["path"])
    meta = copy.deepcopy(ckpt["metadata"])
    model = str((meta.get("model") or {}).get("name") or "")
    if not model:
        raise ValueError(f"{src}: metadata does not name the model")
    out = Path(out)
    tag = _tag_from_name(out, model)
    test = (meta.get("metrics") or {}).get("test") or {}
    if test_report is not None:
        test = _test_from_report(Path(test_report), src)
    if "top1" not in test:
        raise ValueError(f"{src}: no test result in its metadata; export the selected checkpoint of a finished run (give the run directory)")
    model_from_checkpoint(ckpt, "cpu")  # the weights must rebuild into the recorded model
    if train_command is None:
        recorded = recorded_commands(src.parent)
        if recorded:
            train_command = recorded[0]
        elif (src.parent / "config.yaml").is_file():
            train_command = f"skelar train -c {src.parent / 'config.yaml'}"
    dataset = meta.get("dataset") or {}
    dataset.pop("root", None)  # a path on the exporting machine
    seed = meta.get("seed")
    if description is None:
        description = (
            f"{dataset.get('name', '?')} {test.get('protocol', '?')}: test top-1 {100 * float(test['top1']):.2f}% "
            f"({test.get('num_samples', '?')} samples, {test.get('clips', '?')} clip(s), seed {seed})"
        )
    record = {
        "model": model,
        "tag": tag,
        "description": description,
        "seed": seed,
        "test": {k: test[k] for k in _TEST_KEYS if k in test},
        "train_command": train_command,
        "export_command": command,
        "source_checkpoint": str(src),
        "epoch": ckpt.get("epoch"),
        "exported": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "skelar_version": skelar.__version__,
    }
    meta["pretrained"] = record
    state = {k: (v.float() if v.is_floating_point() else v).detach().clone().contiguous() for k, v in ckpt["model"].items()}
    path = save_checkpoint(out, {"model": state, "epoch": ckpt.get("epoch"), "metadata": meta})
    model_from_checkpoint(path, "cpu")  # reads back
    card = {**record, "file": path.name, "bytes": path.stat().st_size, "sha256": _sha256(path)}
    write_json(path.with_suffix(".json"), card)
    return {**card, "path": str(path), "card": str(path.with_suffix(".json"))}
