"""Using a trained checkpoint: re-test it on a dataset split, or predict classes for new samples.

Both rebuild the model and the test-time transforms from the checkpoint's metadata, and sample the
``K`` test clips with the same seeds as training did, so ``skelar test`` on the training run's data
reproduces the run's own test numbers.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from tqdm import tqdm

from skelar.data import PreparedDataset, SkeletonDataset, is_prepared_dir
from skelar.engine.checkpoint import load_checkpoint, missing_plugins_hint, model_from_checkpoint
from skelar.engine.config import Config, config_to_dict
from skelar.engine.confusions import resolve_class_group
from skelar.engine.data_setup import open_source, with_stream
from skelar.engine.evaluate import evaluate
from skelar.engine.losses import split_output
from skelar.engine.loaders import eval_loader
from skelar.engine.reports import metrics_summary, save_evaluation
from skelar.engine.run_dir import write_json
from skelar.engine.seeding import resolve_device
from skelar.formats.axes import parse_axes
from skelar.store.names import check_path_name
from skelar.layouts import JointLayout, adopt_layout, get_layout, layout_from_dict
from skelar.runtime import InferenceSpec
from skelar.runtime.predictor import Predictor
from skelar.transforms import Compose, build_transforms

__all__ = ["LoadedModel", "load_for_inference", "load_predictor", "module_predictor", "evaluate_checkpoint", "torch_forward", "predict"]

log = logging.getLogger("skelar.inference")


@dataclass
class LoadedModel:
    """A model rebuilt for inference with what it needs to read samples (classes, transforms, clips)."""

    model: torch.nn.Module
    checkpoint: dict[str, Any]
    transform: Compose
    clips: int
    seed: int
    classes: list[str]
    device: torch.device
    spec: InferenceSpec
    layout: JointLayout | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        return self.checkpoint["metadata"]


def load_for_inference(checkpoint: str | Path, device: str = "auto", clips: int | None = None, config: Config | None = None) -> LoadedModel:
    """Model (eval mode), test transforms, clip count and seed from a checkpoint's metadata.

    ``config`` (e.g. the recipe a model was trained with) supplies the test transforms, clips and seed
    instead — needed for imported reference weights, whose metadata has none.
    """
    dev = resolve_device(device)
    ckpt = load_checkpoint(checkpoint)
    model, ckpt = model_from_checkpoint(ckpt, dev)
    meta = ckpt["metadata"]
    layout = checkpoint_layout(meta, str(checkpoint))
    if config is not None:
        specs = with_stream(config.data.test_transforms, config.data.stream)
        default_clips, seed = config.data.test_clips, config.seed
        where = "data.test_transforms"
    else:
        pre = meta.get("preprocessing") or {}
        specs, default_clips, seed = pre.get("test_transforms") or [], pre.get("test_clips") or 1, meta.get("seed", 0)
        where = f"{checkpoint}: preprocessing.test_transforms"
    try:
        transform = build_transforms(specs, where=where, layout=layout)
    except (KeyError, ValueError) as e:
        hint = missing_plugins_hint(meta) if config is None else ""
        if not hint:
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        raise ValueError(f"{msg}{hint}") from None
    k = int(clips or default_clips)
    if k < 1:
        raise ValueError(f"--clips must be >= 1, got {k}")
    spec = InferenceSpec.from_metadata(meta).with_overrides(test_transforms=list(specs), test_clips=k, seed=int(seed))
    return LoadedModel(model, ckpt, transform, k, int(seed), list(spec.classes), dev, spec, layout)


def checkpoint_layout(meta: dict[str, Any], source: str) -> JointLayout | None:
    """The joint layout a checkpoint records (``None`` for weights that record none), made usable by name."""
    d = (meta.get("layout") or {}).get("dict")
    if d:
        return adopt_layout(layout_from_dict(d, source=f"{source}: metadata layout"), source)
    name = (meta.get("layout") or {}).get("name")
    return get_layout(name) if name else None


def _num_joints(lm: LoadedModel) -> int:
    return lm.layout.num_joints if lm.layout is not None else 0


def _check_compatible(lm: LoadedModel, ds: PreparedDataset) -> None:
    info = lm.metadata.get("dataset") or {}
    joints = _num_joints(lm)
    if joints and ds.layout.num_joints != joints:
        raise ValueError(f"{ds.root}: layout {ds.layout.name!r} ({ds.layout.num_joints} joints) does not match the checkpoint's {lm.layout.name!r} ({joints})")
    if lm.layout is not None and ds.layout.names != lm.layout.names:
        raise ValueError(f"{ds.root}: the joints of layout {ds.layout.name!r} are not the checkpoint's {lm.layout.name!r} (names or order differ)")
    trained = len(lm.classes) or ((lm.metadata.get("model") or {}).get("kwargs") or {}).get("num_classes")
    if trained and ds.num_classes != trained:
        raise ValueError(f"{ds.root}: {ds.num_classes} classes but the checkpoint's model has {trained}")
    if lm.classes and ds.classes != lm.classes:
        log.warning("%s: class names differ from the checkpoint's (same count; labels are compared by index)", ds.root)
    if info.get("num_channels") and ds.num_channels != info["num_channels"]:
        raise ValueError(f"{ds.root}: {ds.num_channels} channels but the checkpoint expects {info['num_channels']}")


def evaluate_checkpoint(
    checkpoint: str | Path,
    data: str | None = None,
    protocol: str | None = None,
    split: str = "test",
    clips: int | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    out_dir: str | Path | None = None,
    num_workers: int = 0,
    progress: bool = True,
    config: Config | None = None,
    ambiguous: Sequence[str | int] | None = None,
) -> dict[str, Any]:
    """Score ``split`` of ``protocol`` on ``data`` and write a report.

    The report's ``ambiguity`` holds the most confused class pairs and, for a group of ``ambiguous``
    classes (names or indices; default: the run's or ``config``'s ``eval.ambiguous_classes``), the
    group's accuracy (:mod:`skelar.engine.confusions`).

    Dataset, protocol, test transforms, clips and seed default to the training run's (checkpoint
    metadata), or to ``config``'s when one is given; explicit arguments win. Writes ``report.json``,
    ``<split>_scores.npz`` and the confusion matrix to ``out_dir`` (default:
    ``<checkpoint folder>/eval-<dataset>-<protocol>-<split>``; for shipped pretrained weights
    ``runs/pretrained/<model>-<tag>/eval-...``) and returns the report.
    """
    lm = load_for_inference(checkpoint, device, clips, config)
    run_cfg = config_to_dict(config) if config is not None else (lm.metadata.get("config") or {})
    cfg_data = run_cfg.get("data") or {}
    source = data or cfg_data.get("source")
    if not source:
        raise ValueError(f"{checkpoint}: the checkpoint does not record its dataset; pass --data (and -c CONFIG for the test transforms)")
    recorded = (lm.metadata.get("dataset") or {}).get("root")
    if data is None and config is None and recorded and is_prepared_dir(recorded):
        source = recorded  # exactly the data the run used (e.g. its synthetic cache, even if the generator changed since)
    cache = cfg_data.get("cache_dir") or os.environ.get("SKELAR_CACHE") or str(Path(run_cfg.get("output_dir", "runs")) / ".cache")
    ds = open_source(source, cfg_data.get("synthetic") or {}, cache, progress=progress)
    _check_compatible(lm, ds)
    protocol = protocol or (None if config else (lm.metadata.get("dataset") or {}).get("protocol")) or cfg_data.get("protocol")
    if not protocol:
        raise ValueError(f"{checkpoint}: no protocol recorded; pass --protocol (one of {', '.join(ds.protocols())})")
    if split not in ("train", "val", "test"):
        raise ValueError(f"--split must be train, val or test, not {split!r}")
    eval_cfg = run_cfg.get("eval") or {}
    group_where = "--ambiguous" if ambiguous else "eval.ambiguous_classes"
    group = resolve_class_group(ambiguous or eval_cfg.get("ambiguous_classes") or [], ds.classes, group_where)
    idx = ds.split(protocol, split)
    dataset = SkeletonDataset(ds, idx, lm.transform, num_clips=lm.clips, seed=lm.seed)
    bs = batch_size or int(cfg_data.get("eval_batch_size") or 32)
    result = evaluate(lm.model, eval_loader(dataset, bs, num_workers, lm.device, lm.seed), lm.device, progress=progress, desc=split)
    ckpt_path = Path(lm.checkpoint["path"])
    # shipped weights (metadata "pretrained") live in the installed package: their reports go under runs/pretrained/
    home = Path(config.output_dir if config else "runs") / "pretrained" / ckpt_path.stem if "pretrained" in lm.metadata else ckpt_path.parent
    if not out_dir:
        check_path_name(ds.name, f"{ds.root / 'dataset.yaml'}: key 'name'")
        check_path_name(protocol, "protocol")
    out = Path(out_dir) if out_dir else home / f"eval-{ds.name}-{protocol}-{split}"
    metrics = save_evaluation(out, result, ds.classes, ds.names, prefix=split, ambiguous=group,
                              top_confused=int(eval_cfg.get("top_confused", 10)))
    report = {
        "checkpoint": str(ckpt_path),
        "checkpoint_epoch": lm.checkpoint.get("epoch"),
        "dataset": ds.name,
        "data": str(ds.root),
        "protocol": protocol,
        "split": split,
        "clips": lm.clips,
        **metrics_summary(metrics, ds.classes),
        "out_dir": str(out),
    }
    write_json(out / "report.json", report)
    return report


def torch_forward(model: torch.nn.Module, device: torch.device):
    """``clips (K, C, T, V, M)`` numpy -> logits ``(K, classes)`` numpy, for :class:`skelar.runtime.Predictor`."""

    @torch.no_grad()
    def forward(clips: np.ndarray):
        out = model(torch.from_numpy(np.ascontiguousarray(clips, np.float32)).to(device))
        logits, _ = split_output(out)
        if isinstance(out, dict) and isinstance(out.get("pred"), torch.Tensor):  # future frames (LTSCL), per clip
            return logits.float().cpu().numpy(), {"predicted_frames": out["pred"].float().cpu().numpy()}
        return logits.float().cpu().numpy()

    return forward


def load_predictor(checkpoint: str | Path, device: str = "auto", clips: int | None = None, config: Config | None = None) -> Predictor:
    """A :class:`Predictor` for a checkpoint or run directory: its model, test transforms, clips and seed."""
    lm = load_for_inference(checkpoint, device, clips, config)
    return Predictor(lm.spec, torch_forward(lm.model, lm.device), str(checkpoint))


def module_predictor(model: torch.nn.Module, metadata: dict[str, Any], device: str = "auto", clips: int | None = None) -> Predictor:
    """A :class:`Predictor` for a model in memory, with the preprocessing recorded in ``metadata`` (a checkpoint's)."""
    dev = resolve_device(device)
    spec = InferenceSpec.from_metadata(metadata).with_overrides(test_clips=clips)
    return Predictor(spec, torch_forward(model.to(dev).eval(), dev), getattr(model, "skelar_name", type(model).__name__))


def predict(
    checkpoint: str | Path,
    inputs: Any,
    top_k: int = 5,
    clips: int | None = None,
    device: str = "auto",
    progress: bool = True,
    config: Config | None = None,
    select: Sequence[str] | None = None,
    trust_pickle: bool = False,
    axes: str | None = None,
) -> list[dict[str, Any]]:
    """Top-``k`` classes with softmax probabilities (of the clip-averaged logits) for every input sample.

    ``inputs``: paths of any format :func:`skelar.data.samples.read_samples` reads, arrays, or
    ``{name: array}``. Each sample's clips are seeded by its name (:func:`skelar.runtime.make_clips`), so
    its result does not depend on the other inputs. ``config`` supplies test transforms/clips/seed when
    the checkpoint's metadata lacks them (imports); ``axes`` is the axis order of ``.npy`` inputs (e.g. ``MTVC``).
    """
    if axes:
        parse_axes(axes, "--axes")
    pred = load_predictor(checkpoint, device, clips, config)
    samples = tqdm(pred.samples(inputs, select, trust_pickle, axes), desc="predict", unit="sample", leave=False, disable=None if progress else True)
    return [pred.row(s, top_k) for s in samples]
