"""Prepare custom datasets (plain folder format, PYSKL/MMAction2 pickles) and export prepared ones to PYSKL."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from skelar.store.prepared import META_FIELDS, PreparedDataset, PreparedWriter, SampleMeta
from skelar.store.splits import carve_validation
from skelar.formats.folder import load_folder_spec, read_folder_sample, resolve_split
from skelar.formats.ntu_skeleton import NTU_NAME_RE
from skelar.formats.pyskl import PICKLE_WARNING, PysklAnnotation, load_pyskl, save_pyskl, split_name_to_part
from skelar.layouts import JointLayout, get_layout, load_layout_file
from skelar.preprocess.protocol_parts import protocol_parts

__all__ = ["prepare_folder", "prepare_pyskl", "export_pyskl", "resolve_layout_arg"]

log = logging.getLogger(__name__)


def resolve_layout_arg(value: str | JointLayout) -> JointLayout:
    """A registered layout name or the path of a layout YAML file."""
    if isinstance(value, JointLayout):
        return value
    if str(value).endswith((".yaml", ".yml")) or Path(value).is_file():
        return load_layout_file(value)
    return get_layout(value)


def _check_parts(parts: dict[str, np.ndarray], proto: str, src: Any) -> None:
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if np.intersect1d(parts[a], parts[b]).size:
                raise ValueError(f"{src}: protocol {proto!r}: parts {a!r} and {b!r} share samples")


def _random_test_part(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    all_idx = np.arange(len(labels))
    train, test = carve_validation(all_idx, labels, None, fraction=fraction, seed=seed, by="sample")
    return train, test


def prepare_folder(src: str | os.PathLike, out: str | os.PathLike, seed: int = 0, overwrite: bool = False) -> PreparedDataset:
    """Prepare a plain-format folder (``dataset.yaml`` + ``.npy``/``.csv`` samples, see :mod:`skelar.formats.folder`)."""
    spec = load_folder_spec(src)
    spec_file = spec.root / "dataset.yaml"
    arrays = [read_folder_sample(s, spec) for s in spec.samples]
    persons = max(a.shape[3] for a in arrays)
    labels = np.asarray([s.label for s in spec.samples])
    subjects = np.asarray([s.meta.get("subject", -1) for s in spec.samples])
    preprocessing = {"pipeline": "folder", "description": "samples as stored in the folder (no normalisation)",
                     "val": {"fraction": spec.val_fraction, "seed": seed}}
    with PreparedWriter(out, spec.layout, spec.classes, num_channels=len(spec.channels), num_persons=persons,
                        name=spec.name, preprocessing=preprocessing, overwrite=overwrite,
                        extra={"channel_names": list(spec.channels), "source": str(spec.root)}) as w:
        for s, a in zip(spec.samples, arrays):
            w.add(a, SampleMeta(name=s.name, label=s.label, **{f: s.meta.get(f, -1) for f in META_FIELDS}))
        splits = spec.splits or {"default": None}
        for proto, sel in splits.items():
            if sel is None:
                train, test = _random_test_part(labels, spec.test_fraction, seed)
                parts = protocol_parts(train, test, labels, subjects, spec.val_fraction, seed=seed)
            else:
                parts = {p: resolve_split(v, spec, f"splits.{proto}.{p}") for p, v in sel.items()}
                _check_parts(parts, proto, spec_file)
                if "val" not in parts:
                    parts = protocol_parts(parts["train"], parts["test"], labels, subjects, spec.val_fraction, seed=seed)
            for part, idx in parts.items():
                if part == "train" and not len(idx):
                    raise ValueError(f"{spec_file}: key 'splits.{proto}.train' selects no samples")
                w.set_split(proto, part, idx)
    return PreparedDataset(out)


def pyskl_to_canonical(a: PysklAnnotation, max_persons: int, use_score: bool, normalize_2d: bool) -> np.ndarray:
    kp = a.keypoint[:max_persons].astype(np.float32)  # (M, T, V, C)
    if kp.shape[3] == 2:
        if normalize_2d:
            h, w = a.img_shape or (1080, 1920)
            kp = kp.copy()
            kp[..., 0] = (kp[..., 0] - w / 2) / (w / 2)
            kp[..., 1] = (kp[..., 1] - h / 2) / (h / 2)
        if use_score and a.keypoint_score is not None:
            kp = np.concatenate([kp, a.keypoint_score[:max_persons, ..., None].astype(np.float32)], axis=-1)
    return np.ascontiguousarray(kp.transpose(3, 1, 2, 0))


def prepare_pyskl(
    src: str | os.PathLike,
    out: str | os.PathLike,
    layout: str | JointLayout,
    trust_pickle: bool = False,
    classes: Sequence[str] | None = None,
    max_persons: int | None = None,
    use_score: bool = True,
    normalize_2d: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
    overwrite: bool = False,
) -> PreparedDataset:
    """Prepare a PYSKL / MMAction2 annotation pickle (read with the restricted unpickler).

    3D keypoints give channels ``x, y, z``; 2D ones ``x, y`` plus ``score`` when ``keypoint_score`` is
    present and ``use_score``. ``normalize_2d`` maps pixel coordinates to [-1, 1] with ``img_shape``
    (PYSKL's ``PreNormalize2D``). Split keys ``<protocol>_train`` / ``<protocol>_val`` become the
    protocol's ``train`` / ``test`` parts (PYSKL evaluates on ``val``); ``val`` is carved from train.
    Sample names in NTU form (``SsssCcccPpppRrrrAaaa``) give subject/view/setup/replication.
    """
    log.warning("reading %s: %s", src, PICKLE_WARNING)
    pf = load_pyskl(src, trust_pickle=trust_pickle)
    lay = resolve_layout_arg(layout)
    anns = pf.annotations
    if not anns:
        raise ValueError(f"{src}: no annotations")
    dims = {a.keypoint.shape[3] for a in anns}
    joints = {a.keypoint.shape[2] for a in anns}
    if len(dims) != 1 or len(joints) != 1:
        raise ValueError(f"{src}: annotations mix keypoint shapes (C in {sorted(dims)}, V in {sorted(joints)})")
    if joints != {lay.num_joints}:
        raise ValueError(f"{src}: keypoints have {joints.pop()} joints but layout {lay.name!r} has {lay.num_joints}")
    dim = dims.pop()
    has_score = use_score and dim == 2 and all(a.keypoint_score is not None for a in anns)
    channel_names = ["x", "y", "z"] if dim == 3 else (["x", "y", "score"] if has_score else ["x", "y"])
    num_classes = max(a.label for a in anns) + 1
    if classes is None:
        classes = [f"class_{i}" for i in range(num_classes)]
    elif len(classes) < num_classes:
        raise ValueError(f"{src}: labels go up to {num_classes - 1} but only {len(classes)} class names were given")
    persons = max(a.keypoint.shape[0] for a in anns)
    persons = min(persons, max_persons) if max_persons else persons
    preprocessing = {"pipeline": "pyskl", "description": "keypoints as stored in the annotation file",
                     "normalize_2d": bool(normalize_2d) and dim == 2, "val": {"fraction": val_fraction, "seed": seed}}
    extra: dict[str, Any] = {"channel_names": channel_names, "source": str(src)}
    shapes = {a.img_shape for a in anns if a.img_shape is not None}
    if len(shapes) == 1:
        extra["img_shape"] = list(shapes.pop())
    index = {a.frame_dir: i for i, a in enumerate(anns)}
    labels = np.asarray([a.label for a in anns])
    subjects = np.full(len(anns), -1)
    with PreparedWriter(out, lay, list(classes), num_channels=len(channel_names), num_persons=persons,
                        name=Path(src).stem, preprocessing=preprocessing, extra=extra, overwrite=overwrite) as w:
        for i, a in enumerate(anns):
            meta = {}
            m = NTU_NAME_RE.search(a.frame_dir)
            if m:
                s, c, p, r, _ = (int(g) for g in m.groups())
                meta = {"setup": s, "view": c, "subject": p, "replication": r}
                subjects[i] = p
            w.add(pyskl_to_canonical(a, persons, has_score, normalize_2d), SampleMeta(name=a.frame_dir, label=a.label, **meta))
        protos: dict[str, dict[str, np.ndarray]] = {}
        keys = list(pf.split)
        for key in keys:
            proto, _ = split_name_to_part(key)
            has_test = any(split_name_to_part(k)[0] == proto and k.endswith("test") for k in keys)
            proto, part = split_name_to_part(key, has_test=has_test)
            if part in protos.setdefault(proto, {}):
                raise ValueError(f"{src}: split keys map twice to {proto}/{part} (key {key!r})")
            protos[proto][part] = np.asarray(sorted(index[n] for n in pf.split[key]), np.int64)
        for proto, parts in protos.items():
            if not {"train", "test"} <= set(parts):
                log.warning("%s: split %r has no train/test pair; stored as given", src, proto)
            elif "val" not in parts and val_fraction:
                parts = protocol_parts(parts["train"], parts["test"], labels, subjects, val_fraction, seed=seed)
            _check_parts(parts, proto, src)
            for part, idx in parts.items():
                w.set_split(proto, part, idx)
    return PreparedDataset(out)


def export_pyskl(src: str | os.PathLike, out: str | os.PathLike, dtype: str = "float32") -> int:
    """Write a prepared dataset as a PYSKL / MMAction2 annotation pickle; returns the number of clips.

    Each protocol ``P`` gives ``P_train`` (stored train + val) and ``P_val`` (stored test), PYSKL's
    naming. Persons that never appear in a clip are dropped (at least one is kept). A dataset whose
    channels are ``x, y, score`` is written as 2D keypoints plus ``keypoint_score``.
    """
    ds = PreparedDataset(src)
    channel_names = list(ds.manifest.get("channel_names") or [])
    two_d = channel_names == ["x", "y", "score"]
    img_shape = ds.manifest.get("img_shape")
    anns = []
    for i in range(len(ds)):
        x = ds[i]  # (C, T, V, M)
        present = np.flatnonzero(np.any(x != 0, axis=(0, 1, 2)))
        m = int(present[-1]) + 1 if present.size else 1
        kp = x[..., :m].transpose(3, 1, 2, 0).astype(dtype)  # (M, T, V, C)
        score = None
        if two_d:
            kp, score = np.ascontiguousarray(kp[..., :2]), np.ascontiguousarray(kp[..., 2])
        anns.append(PysklAnnotation(str(ds.names[i]), int(ds.labels[i]), np.ascontiguousarray(kp), score,
                                    tuple(img_shape) if img_shape and two_d else None))
    split: dict[str, list[str]] = {}
    for proto in ds.protocols():
        train = [ds.split(proto, p) for p in ("train", "val") if ds.has_split(proto, p)]
        if train:
            split[f"{proto}_train"] = [str(ds.names[i]) for i in np.sort(np.concatenate(train))]
        if ds.has_split(proto, "test"):
            split[f"{proto}_val"] = [str(ds.names[i]) for i in ds.split(proto, "test")]
    save_pyskl(out, anns, split)
    return len(anns)
