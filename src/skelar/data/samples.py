"""One reader for single samples in every format skelar knows, as canonical ``(C, T, V, M)`` arrays.

``read_samples(path)`` takes a ``.npy`` (``(C, T, V, M)`` or ``(T, V, C)``), a ``.csv`` (one row per
frame, columns ``<Joint>_<channel>``), a raw NTU ``.skeleton``, an NW-UCLA ``.json``, a PYSKL ``.pkl``
(restricted unpickler, ``trust_pickle`` required) or a prepared-dataset directory, optionally with
``select`` naming the samples wanted. Raw files go through the dataset pipeline a model was trained
on when ``pipeline`` (a prepared dataset's ``preprocessing`` record) is given; without it they come
as recorded (NTU bodies by their slot in each frame). Each sample carries its own layout when the
format implies one (NTU: ``ntu25``; NW-UCLA: ``ucla20``; prepared: the dataset's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from skelar.store.npy import load_npy
from skelar.store.prepared import PreparedDataset, is_prepared_dir
from skelar.formats.axes import parse_axes, to_ctvm
from skelar.formats.folder import read_csv_sample
from skelar.formats.ntu_skeleton import parse_ntu_name, read_ntu_skeleton
from skelar.formats.pyskl import load_pyskl
from skelar.formats.ucla import UCLA_CLASSES, read_ucla_json
from skelar.layouts import JointLayout, get_layout, list_layouts
from skelar.preprocess.custom import pyskl_to_canonical
from skelar.preprocess.ntu_classes import NTU120_CLASSES

__all__ = ["Sample", "SAMPLE_SUFFIXES", "read_samples", "layout_for_joints", "ntu_raw_array"]

SAMPLE_SUFFIXES = (".npy", ".csv", ".skeleton", ".json", ".pkl", ".pickle")
_NTU_PIPELINES = ("sgn", "energy", "energy_2sagcn")


@dataclass
class Sample:
    """``data`` is float32 ``(C, T, V, M)``; ``label``/``classes`` when the source knows them."""

    source: str
    name: str
    data: np.ndarray
    label: int | None = None
    classes: list[str] | None = None
    layout: JointLayout | None = None
    channels: list[str] = field(default_factory=list)

    @property
    def label_name(self) -> str | None:
        if self.label is None:
            return None
        return self.classes[self.label] if self.classes and self.label < len(self.classes) else str(self.label)


def layout_for_joints(num_joints: int, where: str) -> JointLayout:
    """The one registered layout with ``num_joints`` joints; an error when none or several fit."""
    fits = [n for n in list_layouts() if get_layout(n).num_joints == num_joints]
    if len(fits) != 1:
        which = f"several layouts have {num_joints} joints ({', '.join(fits)})" if fits else f"no registered layout has {num_joints} joints"
        raise ValueError(f"{where}: {which}; name the layout (--layout)")
    return get_layout(fits[0])


def _finite(a: np.ndarray, where: str) -> np.ndarray:
    """``a`` as float32 ``(C, T, V, M)``; NaN, infinities and values beyond float32 are errors naming ``where``."""
    if a.ndim != 4 or min(a.shape[0], a.shape[2], a.shape[3]) < 1:
        raise ValueError(f"{where}: expected a (C, T, V, M) sample, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{where}: contains NaN or infinite values")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{where}: contains values beyond the float32 range")
    return a


def _npy(p: Path, layout: JointLayout | None, num_channels: int | None, axes: str | None) -> Sample:
    try:
        a = load_npy(p)
    except OSError as e:
        raise ValueError(f"{p}: not a readable .npy array ({e.strerror or e})") from None
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{p}: array dtype {a.dtype} is not real-valued (expected float or integer coordinates)")
    v, c = (layout.num_joints if layout else None), num_channels
    if axes:
        a = to_ctvm(a, parse_axes(axes, "--axes"), str(p))
        if v is not None and a.shape[2] != v:
            raise ValueError(f"{p}: {a.shape[2]} joints on the V axis but layout {layout.name!r} has {v}; a .npy array cannot "
                             f"tell its joint order, so store the joints in the layout's order (see `skelar layouts`) or give --axes")
        if c is not None and a.shape[0] != c:
            raise ValueError(f"{p}: {a.shape[0]} channels on the C axis (axes {axes}) but the model expects {c}")
    elif a.ndim == 3 and (v is None or a.shape[1] == v) and (c is None or a.shape[2] == c):
        a = a.transpose(2, 0, 1)[..., None]
    elif not (a.ndim == 4 and (c is None or a.shape[0] == c) and (v is None or a.shape[2] == v)):
        want = f" with C={c if c else 'any'}, V={v if v else 'any'}" + (f" (layout {layout.name!r})" if layout else "")
        raise ValueError(f"{p}: shape {a.shape} is neither (C, T, V, M) nor (T, V, C){want}; "
                         f"give the stored order with --axes, e.g. --axes MTVC for PYSKL keypoints")
    lay = layout or layout_for_joints(a.shape[2], str(p))
    return Sample(str(p), p.stem, _finite(a, str(p)), layout=lay)


def _csv_header(p: Path) -> list[str]:
    with open(p, newline="") as f:
        return [h.strip() for h in f.readline().split(",")]


def _csv_layout(p: Path) -> JointLayout:
    cols = {h.rsplit("_", 1)[0] for h in _csv_header(p) if "_" in h}
    fits = [n for n in list_layouts() if set(get_layout(n).names) <= cols]
    if len(fits) != 1:
        raise ValueError(f"{p}: {'several' if fits else 'no'} registered layouts match the CSV's <Joint>_<channel> columns; name the layout (--layout)")
    return get_layout(fits[0])


def _csv(p: Path, layout: JointLayout | None, num_channels: int | None) -> Sample:
    lay = layout or _csv_layout(p)
    if num_channels is None:  # 3D when the joints have a _z column, else 2D
        num_channels = 3 if f"{lay.names[0]}_z" in _csv_header(p) else 2
    channels = ["x", "y", "z"][:num_channels] if num_channels <= 3 else ["x", "y", "z", "score"][:num_channels]
    return Sample(str(p), p.stem, _finite(read_csv_sample(p, lay, channels), str(p)), layout=lay, channels=channels)


def ntu_raw_array(path: Path, max_persons: int = 2) -> np.ndarray:
    """A ``.skeleton`` as recorded: ``(3, F, 25, M)``, person ``m`` = the ``m``-th body listed in each frame."""
    ske = read_ntu_skeleton(path, ("x", "y", "z"))
    m = max(1, min(max_persons, int(ske.body_counts.max(initial=0))))
    out = np.zeros((3, ske.num_frames, 25, m), np.float32)
    keep = ske.slot < m
    out[:, ske.frame_index[keep], :, ske.slot[keep]] = ske.xyz[keep].transpose(0, 2, 1)
    return out


def _skeleton(p: Path, pipeline: Mapping[str, Any] | None) -> Sample:
    name = p.name[: -len(".skeleton")]
    kind = (pipeline or {}).get("pipeline")
    if kind in _NTU_PIPELINES:
        from skelar.preprocess.ntu_prepare import process_ntu_files

        _, a, err, msg = process_ntu_files([str(p)], kind)[0]
        if a is None:
            raise ValueError(msg or f"{p}: {err}")
    elif kind is None:
        a = ntu_raw_array(p)
    else:
        raise ValueError(f"{p}: an NTU .skeleton file, but the model's data was prepared with pipeline {kind!r}")
    try:
        label = parse_ntu_name(name)["action"] - 1
    except ValueError:
        label = None
    classes = list(NTU120_CLASSES) if label is not None else None
    return Sample(str(p), name, _finite(a, str(p)), label, classes, get_layout("ntu25"), ["x", "y", "z"])


def _ucla(p: Path, pipeline: Mapping[str, Any] | None) -> Sample:
    kind = (pipeline or {}).get("pipeline")
    if kind not in (None, "ucla_raw"):
        raise ValueError(f"{p}: an NW-UCLA .json file, but the model's data was prepared with pipeline {kind!r}")
    seq = read_ucla_json(p)
    return Sample(str(p), seq.name, _finite(seq.to_canonical(), str(p)), seq.label, list(UCLA_CLASSES), get_layout("ucla20"), ["x", "y", "z"])


def _pyskl(p: Path, layout: JointLayout | None, pipeline: Mapping[str, Any] | None, num_channels: int | None,
           select: Sequence[str] | None, trust_pickle: bool) -> Iterator[Sample]:
    anns = load_pyskl(p, trust_pickle=trust_pickle).annotations
    by_name = {a.frame_dir: a for a in anns}
    missing = [n for n in select or [] if n not in by_name]
    if missing:
        raise ValueError(f"{p}: no annotation with frame_dir {missing[0]!r}")
    normalize = bool((pipeline or {}).get("normalize_2d"))
    for a in ([by_name[n] for n in select] if select else anns):
        use_score = a.keypoint.shape[3] == 2 and a.keypoint_score is not None and num_channels in (None, 3)
        x = pyskl_to_canonical(a, a.keypoint.shape[0], use_score, normalize)
        lay = layout or layout_for_joints(x.shape[2], f"{p}: {a.frame_dir}")
        ch = ["x", "y", "z"] if a.keypoint.shape[3] == 3 else (["x", "y", "score"] if use_score else ["x", "y"])
        yield Sample(f"{p}", a.frame_dir, _finite(x, f"{p}: {a.frame_dir}"), a.label, None, lay, ch)


def _prepared(p: Path, select: Sequence[str] | None) -> Iterator[Sample]:
    ds = PreparedDataset(p)
    names = [str(n) for n in ds.names]
    if select:
        index = {n: i for i, n in enumerate(names)}
        missing = [n for n in select if n not in index]
        if missing:
            raise ValueError(f"{p}: no sample named {missing[0]!r} (names look like {names[0]!r})")
        order = [index[n] for n in select]
    else:
        order = range(len(ds))
    channels = list((ds.preprocessing.get("channel_names") or []) if isinstance(ds.preprocessing, dict) else [])
    for i in order:
        yield Sample(str(p), names[i], np.asarray(ds[i], np.float32), int(ds.labels[i]), list(ds.classes), ds.layout, channels)


def read_samples(
    path: str | Path,
    layout: JointLayout | str | None = None,
    num_channels: int | None = None,
    pipeline: Mapping[str, Any] | None = None,
    select: Sequence[str] | None = None,
    trust_pickle: bool = False,
    axes: str | None = None,
) -> Iterator[Sample]:
    """Yield the samples in ``path`` (see the module docstring); ``layout``/``num_channels`` constrain
    arrays whose layout the file does not tell (``.npy``, ``.csv``, PYSKL); ``axes`` is the axis order
    of a ``.npy`` (a permutation of ``CTV``/``CTVM``, e.g. ``MTVC``; default ``(C, T, V, M)`` or ``(T, V, C)``)."""
    p = Path(path)
    lay = get_layout(layout) if layout is not None else None
    if p.is_dir():
        if not is_prepared_dir(p):
            raise ValueError(f"{p}: a directory input must be a prepared dataset (dataset.yaml)")
        yield from _prepared(p, select)
        return
    if not p.is_file():
        raise FileNotFoundError(f"input not found: {p}")
    suffix = p.suffix.lower()
    if suffix in (".pkl", ".pickle"):
        yield from _pyskl(p, lay, pipeline, num_channels, select, trust_pickle)
        return
    if select:
        raise ValueError(f"{p}: naming samples applies to prepared datasets and PYSKL pickles only")
    if suffix == ".npy":
        yield _npy(p, lay, num_channels, axes)
    elif suffix == ".csv":
        yield _csv(p, lay, num_channels)
    elif suffix == ".skeleton":
        yield _skeleton(p, pipeline)
    elif suffix == ".json":
        yield _ucla(p, pipeline)
    else:
        raise ValueError(f"{p}: unsupported input; expected one of {', '.join(SAMPLE_SUFFIXES)} or a prepared-dataset directory")
