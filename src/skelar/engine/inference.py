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
from skelar.engine.evaluate import clip_logits, evaluate
from skelar.engine.loaders import eval_loader
from skelar.engine.reports import metrics_summary, save_evaluation
from skelar.engine.run_dir import write_json
from skelar.engine.seeding import resolve_device
from skelar.store.names import check_path_name
from skelar.store.npy import load_npy
from skelar.formats.axes import parse_axes, to_ctvm
from skelar.layouts import JointLayout, adopt_layout, get_layout, layout_from_dict
from skelar.transforms import Compose, build_transforms

__all__ = ["LoadedModel", "load_for_inference", "evaluate_checkpoint", "read_input_array", "predict"]

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
    classes = list((meta.get("dataset") or {}).get("classes") or [])
    return LoadedModel(model, ckpt, transform, k, int(seed), classes, dev, layout)


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


def check_joint_axis(a: np.ndarray, num_joints: int, layout: JointLayout | None, where: str) -> None:
    """``a`` ``(C, T, V, M)`` must have the checkpoint layout's number of joints (the order cannot be checked)."""
    if num_joints and a.shape[2] != num_joints:
        name = f"layout {layout.name!r}" if layout is not None else "the checkpoint"
        raise ValueError(
            f"{where}: {a.shape[2]} joints on the V axis but {name} has {num_joints}; a .npy array cannot tell its "
            f"joint order, so store the joints in the layout's order (see `skelar layouts`) or give --axes"
        )


def read_input_array(path: str | Path, num_channels: int, num_joints: int, num_persons: int, axes: str | None = None,
                     layout: JointLayout | None = None) -> np.ndarray:
    """A ``.npy`` as a float32 ``(C, T, V, M)`` array (persons zero-padded).

    ``axes`` gives the stored axis order (``MTVC`` for PYSKL keypoints, see :func:`skelar.formats.axes.parse_axes`);
    without it the array must be ``(C, T, V, M)`` or ``(T, V, C)``.
    """
    path = Path(path)
    try:
        a = load_npy(path)
    except OSError as e:
        raise ValueError(f"{path}: not a readable .npy array ({e.strerror or e})") from None
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{path}: array dtype {a.dtype} is not real-valued (expected float or integer coordinates)")
    if axes:
        a = to_ctvm(a, parse_axes(axes, "--axes"), str(path))
        check_joint_axis(a, num_joints, layout, str(path))
        if a.shape[0] != num_channels:
            raise ValueError(f"{path}: {a.shape[0]} channels on the C axis (axes {axes}) but the checkpoint expects {num_channels}")
    elif a.ndim == 3 and a.shape[1] == num_joints and a.shape[2] == num_channels:
        a = a.transpose(2, 0, 1)[..., None]
    elif not (a.ndim == 4 and a.shape[0] == num_channels and a.shape[2] == num_joints):
        raise ValueError(
            f"{path}: shape {a.shape} is neither (C, T, V, M) nor (T, V, C) with C={num_channels}, V={num_joints} "
            f"(the checkpoint's layout); give the stored order with --axes, e.g. --axes MTVC for PYSKL keypoints"
        )
    if a.shape[3] > num_persons:
        raise ValueError(f"{path}: {a.shape[3]} persons but the model was trained with at most {num_persons}")
    if a.shape[3] < num_persons:
        a = np.concatenate([a, np.zeros(a.shape[:3] + (num_persons - a.shape[3],), a.dtype)], axis=3)
    if not np.isfinite(a).all():
        raise ValueError(f"{path}: contains NaN or infinite values")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{path}: contains values beyond the float32 range")
    return a


def _samples(inputs: Sequence[str | Path], lm: LoadedModel, axes: str | None = None):
    """Yield ``(input, name, (C,T,V,M) array, label or None)`` for .npy files and prepared-dataset dirs."""
    info = lm.metadata.get("dataset") or {}
    joints = _num_joints(lm)
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            if not is_prepared_dir(p):
                raise ValueError(f"{p}: a directory input must be a prepared dataset (dataset.yaml)")
            ds = PreparedDataset(p)
            _check_compatible(lm, ds)
            for i in range(len(ds)):
                yield str(p), str(ds.names[i]), ds[i], int(ds.labels[i])
        elif p.suffix == ".npy":
            if not p.is_file():
                raise FileNotFoundError(f"input not found: {p}")
            c = int(info.get("num_channels") or 3)
            arr = read_input_array(p, c, joints, int(info.get("num_persons") or 1), axes=axes, layout=lm.layout)
            yield str(p), p.stem, arr, None
        else:
            raise ValueError(f"{p}: inputs must be .npy files or prepared-dataset directories")


@torch.no_grad()
def predict(
    checkpoint: str | Path,
    inputs: Sequence[str | Path],
    top_k: int = 5,
    clips: int | None = None,
    device: str = "auto",
    progress: bool = True,
    config: Config | None = None,
    axes: str | None = None,
) -> list[dict[str, Any]]:
    """Top-``k`` classes with softmax probabilities (of the clip-averaged logits) for every input sample.

    ``config`` supplies test transforms/clips/seed when the checkpoint's metadata lacks them (imports);
    ``axes`` is the axis order of ``.npy`` inputs (e.g. ``MTVC``).
    """
    if axes:
        parse_axes(axes, "--axes")
    lm = load_for_inference(checkpoint, device, clips, config)
    out = []
    samples = tqdm(_samples(inputs, lm, axes), desc="predict", unit="sample", leave=False, disable=None if progress else True)
    for n, (src, name, x, label) in enumerate(samples):
        if x.shape[1] == 0:
            raise ValueError(f"{src} ({name}): the sequence has 0 frames; there is nothing to predict")
        stack = []
        for k in range(lm.clips):
            rng = np.random.default_rng([lm.seed, 0, n, k])
            stack.append(lm.transform(x, rng))
        try:
            clips_t = torch.from_numpy(np.stack(stack).astype(np.float32))[None].to(lm.device)
        except ValueError:
            raise ValueError(f"{src} ({name}): test clips differ in shape; the checkpoint's test transforms need a fixed-length sampler") from None
        logits = clip_logits(lm.model, clips_t)[0]
        prob = torch.softmax(logits.float(), dim=0).cpu().numpy()
        order = np.argsort(-prob, kind="stable")[: max(1, min(top_k, len(prob)))]
        row: dict[str, Any] = {
            "input": src,
            "name": name,
            "top": [{"index": int(i), "class": lm.classes[i] if i < len(lm.classes) else str(i), "prob": float(prob[i])} for i in order],
        }
        if label is not None:
            row["label"] = label
        out.append(row)
    return out
