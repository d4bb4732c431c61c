"""Prepare custom datasets (plain folder format, PYSKL/MMAction2 pickles) and export prepared ones to PYSKL."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from skelar.store.prepared import META_FIELDS, PreparedDataset, PreparedWriter, SampleMeta
from skelar.store.splits import carve_validation
from skelar.formats.folder import load_folder_spec, read_folder_sample, resolve_split, subject_ids
from skelar.formats.folder_index import meta_value, subject_id_array
from skelar.formats.ntu_skeleton import NTU_NAME_RE
from skelar.formats.pyskl import PICKLE_WARNING, PysklAnnotation, load_pyskl, save_pyskl, split_name_to_part
from skelar.layouts import JointLayout
from skelar.preprocess.layout_arg import resolve_layout_arg
from skelar.preprocess.protocol_parts import protocol_parts

__all__ = ["prepare_folder", "prepare_pyskl", "export_pyskl", "resolve_layout_arg", "pyskl_split_mapping"]

log = logging.getLogger(__name__)


def _check_parts(parts: dict[str, np.ndarray], proto: str, src: Any, keys: dict[str, str] | None = None) -> None:
    """No sample in two parts of a protocol; the error names the file and the split keys."""
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = np.intersect1d(parts[a], parts[b])
            if shared.size:
                what = f"split keys {keys[a]!r} and {keys[b]!r}" if keys else f"parts {a!r} and {b!r}"
                raise ValueError(f"{src}: protocol {proto!r}: {what} share {shared.size} sample(s)")


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
    subjects, subject_names = subject_ids(spec.samples)
    preprocessing = {"pipeline": "folder", "description": "samples as stored in the folder (no normalisation)",
                     "val": {"fraction": spec.val_fraction, "by": spec.val_by, "seed": seed}}
    extra: dict[str, Any] = {"channel_names": list(spec.channels), "source": str(spec.root)}
    if subject_names:
        extra["subject_names"] = subject_names  # subject id i is subject_names[i]
    with PreparedWriter(out, spec.layout, spec.classes, num_channels=len(spec.channels), num_persons=persons,
                        name=spec.name, preprocessing=preprocessing, overwrite=overwrite, extra=extra) as w:
        for i, (s, a) in enumerate(zip(spec.samples, arrays)):
            meta = {f: int(s.meta.get(f, -1)) for f in META_FIELDS if f != "subject"}
            w.add(a, SampleMeta(name=s.name, label=s.label, subject=int(subjects[i]), **meta))
        splits = spec.splits or {"default": None}
        for proto, sel in splits.items():
            if sel is None:
                train, test = _random_test_part(labels, spec.test_fraction, seed)
                parts = protocol_parts(train, test, labels, subjects, spec.val_fraction, spec.val_by, seed=seed, protocol=proto)
            else:
                parts = {p: resolve_split(v, spec, f"splits.{proto}.{p}") for p, v in sel.items()}
                _check_parts(parts, proto, spec_file)
                if "val" not in parts:
                    parts = protocol_parts(parts["train"], parts["test"], labels, subjects, spec.val_fraction, spec.val_by,
                                           seed=seed, protocol=proto)
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
    val_by: str = "subject",
    subject_pattern: str | None = None,
) -> PreparedDataset:
    """Prepare a PYSKL / MMAction2 annotation pickle (read with the restricted unpickler).

    3D keypoints give channels ``x, y, z``; 2D ones ``x, y`` plus ``score`` when ``keypoint_score`` is
    present and ``use_score``. ``normalize_2d`` maps pixel coordinates to [-1, 1] with ``img_shape``
    (PYSKL's ``PreNormalize2D``). Split keys ``<protocol>_train`` / ``<protocol>_val`` become the
    protocol's ``train`` / ``test`` parts (PYSKL evaluates on ``val``); ``val`` is carved from train.
    Subjects come from an annotation's ``subject`` key, else from ``subject_pattern`` (a regex with a
    group ``(?P<subject>...)``, any string) on ``frame_dir``, else from NTU-form names
    (``SsssCcccPpppRrrrAaaa``, which also give view/setup/replication). The split-key mapping is logged
    and recorded in the manifest (``split_mapping``); see :func:`pyskl_split_mapping`.
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
                     "normalize_2d": bool(normalize_2d) and dim == 2, "val": {"fraction": val_fraction, "by": val_by, "seed": seed}}
    extra: dict[str, Any] = {"channel_names": channel_names, "source": str(src)}
    shapes = {a.img_shape for a in anns if a.img_shape is not None}
    if len(shapes) == 1:
        extra["img_shape"] = list(shapes.pop())
    index = {a.frame_dir: i for i, a in enumerate(anns)}
    labels = np.asarray([a.label for a in anns])
    metas = [_pyskl_meta(a, subject_pattern, src) for a in anns]
    subjects, subject_names = subject_id_array([m.get("subject", -1) for m in metas])
    if subject_names:
        extra["subject_names"] = subject_names  # subject id i is subject_names[i]
    mapping = pyskl_split_mapping(list(pf.split), src)
    extra["split_mapping"] = {key: f"{proto}/{part}" for key, (proto, part) in mapping.items()}
    for key, (proto, part) in mapping.items():
        log.info("%s: split %r -> %s/%s (%d clips)", src, key, proto, part, len(pf.split[key]))
    with PreparedWriter(out, lay, list(classes), num_channels=len(channel_names), num_persons=persons,
                        name=Path(src).stem, preprocessing=preprocessing, extra=extra, overwrite=overwrite) as w:
        for i, a in enumerate(anns):
            meta = {**metas[i], "subject": int(subjects[i])}
            w.add(pyskl_to_canonical(a, persons, has_score, normalize_2d), SampleMeta(name=a.frame_dir, label=a.label, **meta))
        protos: dict[str, dict[str, np.ndarray]] = {}
        for key, (proto, part) in mapping.items():
            protos.setdefault(proto, {})[part] = np.asarray(sorted(index[n] for n in pf.split[key]), np.int64)
        key_of = {target: key for key, target in mapping.items()}
        for proto, parts in protos.items():
            _check_parts(parts, proto, src, {p: key_of[proto, p] for p in parts})
            if not {"train", "test"} <= set(parts):
                log.warning("%s: split %r has no train/test pair; stored as given", src, proto)
            elif "val" not in parts and val_fraction:
                parts = protocol_parts(parts["train"], parts["test"], labels, subjects, val_fraction, val_by, seed=seed, protocol=proto)
            for part, idx in parts.items():
                w.set_split(proto, part, idx)
    return PreparedDataset(out)


def pyskl_split_mapping(keys: list[str], src: Any = "pickle") -> dict[str, tuple[str, str]]:
    """Split key -> ``(protocol, part)``: ``<p>_train`` -> p/train; ``<p>_val`` -> p/test, or p/val when the
    protocol also has ``<p>_test``; ``<p>_test`` -> p/test; ``trainN``/``testN`` -> splitN; bare
    ``train``/``val``/``test`` -> protocol ``default``."""
    out: dict[str, tuple[str, str]] = {}
    for key in keys:
        try:
            split_name_to_part(key)
        except ValueError as e:
            raise ValueError(f"{src}: {e}") from None
    for key in keys:
        proto, _ = split_name_to_part(key)
        has_test = any(split_name_to_part(k)[0] == proto and k.endswith("test") for k in keys)
        out[key] = split_name_to_part(key, has_test=has_test)
    seen: dict[tuple[str, str], str] = {}
    for key, target in out.items():
        if target in seen:
            raise ValueError(f"{src}: split keys {seen[target]!r} and {key!r} both map to {target[0]}/{target[1]}")
        seen[target] = key
    return out


def _pyskl_meta(a: PysklAnnotation, subject_pattern: str | None, src: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    m = NTU_NAME_RE.search(a.frame_dir)
    if m:
        s, c, p, r, _ = (int(g) for g in m.groups())
        meta = {"setup": s, "view": c, "subject": p, "replication": r}
    if subject_pattern:
        found = re.search(subject_pattern, a.frame_dir)
        if not found or found.groupdict().get("subject") is None:
            raise ValueError(f"{src}: --subject-pattern does not match frame_dir {a.frame_dir!r}")
        meta["subject"] = meta_value("subject", found.group("subject"), f"{src}: {a.frame_dir}")
    if a.subject is not None:
        meta["subject"] = meta_value("subject", a.subject, f"{src}: {a.frame_dir}: key 'subject'")
    return meta


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
