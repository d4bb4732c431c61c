"""The plain folder format for custom datasets: a ``dataset.yaml`` plus one ``.npy`` or ``.csv`` file per sample.

No code and no pickle: a dataset in any skeleton (declared in YAML) becomes preparable with::

    name: stick5
    layout: stick5_layout.yaml   # a registered name (ntu25, ucla20, coco17, ...), a YAML file relative
                                 # to this folder, or an inline mapping {name, center, joints: [...]}
    classes: [wave, kick]        # label i = classes[i]
    channels: [x, y, z]          # channel names (default [x, y, z]); CSV columns are <Joint>_<channel>
    axes: TVC                    # axis order of .npy files: a permutation of C,T,V[,M] (default CTVM)
    metadata_pattern: 'P(?P<subject>\\d+)'  # optional regex on file names -> subject/view/setup/replication
    samples:                     # optional; default: every <class>/<name>.npy|.csv below the folder
      - {file: clips/a.npy, label: wave, subject: 1}
    splits:                      # optional; protocol -> part -> sample names or a rule
      xsub:
        train: {subject: [1, 2]}            # rule: metadata field in list (or {class: [...]})
        test: [c03, c04]                    # or an explicit list of sample names (file stems)
    val_fraction: 0.1            # val carved from train (by subject when known), unless a 'val' part is given
    test_fraction: 0.2           # used only without 'splits': a stratified random test part

``.npy`` files hold one sample (any float dtype, loaded without pickle). ``.csv`` files have a header
row and one row per frame with a column ``<Joint>_<channel>`` for every joint and channel (one person);
other columns (e.g. ``frame``) are ignored.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from skelar.store.prepared import META_FIELDS
from skelar.layouts import JointLayout, get_layout, layout_from_dict, load_layout_file

__all__ = ["FolderSample", "FolderSpec", "load_folder_spec", "read_folder_sample", "resolve_split"]

SPEC_FILE = "dataset.yaml"
_SAMPLE_EXTS = (".npy", ".csv")
_SPEC_KEYS = {"name", "layout", "classes", "channels", "axes", "metadata_pattern", "samples", "splits",
              "val_fraction", "test_fraction", "description"}


@dataclass
class FolderSample:
    """One sample file of a plain folder dataset and what its name or index says about it."""

    name: str
    path: Path
    label: int
    meta: dict[str, int] = field(default_factory=dict)


@dataclass
class FolderSpec:
    """A plain folder dataset's ``dataset.yaml``: layout, classes, channels, splits."""

    root: Path
    name: str
    layout: JointLayout
    classes: list[str]
    channels: list[str]
    axes: str
    samples: list[FolderSample]
    splits: dict[str, dict[str, Any]]
    val_fraction: float = 0.1
    test_fraction: float = 0.2


def _err(src: Path, key: str, msg: str) -> ValueError:
    return ValueError(f"{src}: key {key!r}: {msg}")


def _layout(value: Any, root: Path, src: Path) -> JointLayout:
    if isinstance(value, dict):
        return layout_from_dict(value, source=f"{src} (key 'layout')")
    if not isinstance(value, str) or not value:
        raise _err(src, "layout", "must be a registered layout name, a YAML file path or a mapping")
    path = root / value
    if value.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise _err(src, "layout", f"layout file {path} not found")
        return load_layout_file(path)
    try:
        return get_layout(value)
    except KeyError as e:
        raise _err(src, "layout", str(e.args[0])) from None


def _label(value: Any, classes: list[str], where: str, src: Path) -> int:
    if isinstance(value, str) and value in classes:
        return classes.index(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(classes):
        return value
    raise _err(src, where, f"label {value!r} is neither a class name nor an index 0..{len(classes) - 1}")


def _meta_from_name(stem: str, pattern: re.Pattern | None) -> dict[str, int]:
    if pattern is None:
        return {}
    m = pattern.search(stem)
    if not m:
        return {}
    return {k: int(v) for k, v in m.groupdict().items() if v is not None and k in META_FIELDS}


def load_folder_spec(root: str | os.PathLike) -> FolderSpec:
    """Read and validate ``root/dataset.yaml`` and list the samples; errors name the file and the key."""
    root = Path(root)
    src = root / SPEC_FILE
    if not src.is_file():
        raise FileNotFoundError(f"{root}: no {SPEC_FILE} (see docs/data.md, 'plain folder format')")
    try:
        doc = yaml.safe_load(src.read_text())
    except yaml.YAMLError as e:
        raise ValueError(f"{src}: invalid YAML: {e}".replace("\n", " ")) from None
    if not isinstance(doc, dict):
        raise ValueError(f"{src}: expected a mapping at the top level")
    unknown = sorted(set(doc) - _SPEC_KEYS)
    if unknown:
        raise _err(src, unknown[0], f"unknown key (allowed: {', '.join(sorted(_SPEC_KEYS))})")
    for key in ("layout", "classes"):
        if key not in doc:
            raise ValueError(f"{src}: missing key {key!r}")
    layout = _layout(doc["layout"], root, src)
    classes = doc["classes"]
    if not isinstance(classes, list) or not classes or len(set(map(str, classes))) != len(classes):
        raise _err(src, "classes", "must be a non-empty list of distinct class names")
    classes = [str(c) for c in classes]
    channels = doc.get("channels", ["x", "y", "z"])
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        raise _err(src, "channels", "must be a non-empty list of channel names")
    axes = str(doc.get("axes", "CTVM")).upper()
    if sorted(axes) not in (sorted("CTV"), sorted("CTVM")):
        raise _err(src, "axes", f"must be a permutation of CTV or CTVM, got {doc.get('axes')!r}")
    pattern = None
    if doc.get("metadata_pattern"):
        try:
            pattern = re.compile(str(doc["metadata_pattern"]))
        except re.error as e:
            raise _err(src, "metadata_pattern", f"invalid regular expression: {e}") from None
    splits = doc.get("splits") or {}
    if not isinstance(splits, dict):
        raise _err(src, "splits", "must map protocol names to {train: ..., test: ...}")
    for proto, parts in splits.items():
        if not isinstance(parts, dict) or not {"train", "test"} <= set(parts) or not set(parts) <= {"train", "val", "test"}:
            raise _err(src, f"splits.{proto}", "must have 'train' and 'test' (and optionally 'val') parts")
    fractions = {}
    for key, default in (("val_fraction", 0.1), ("test_fraction", 0.2)):
        v = doc.get(key, default)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v < 1:
            raise _err(src, key, f"must be a number in [0, 1), got {v!r}")
        fractions[key] = float(v)
    samples = _list_samples(doc.get("samples"), root, classes, pattern, src)
    names = [s.name for s in samples]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise _err(src, "samples", f"two samples are named {dup!r} (sample names are file stems and must be unique)")
    return FolderSpec(root, str(doc.get("name", root.name)), layout, classes, channels, axes, samples, splits, **fractions)


def _list_samples(entries: Any, root: Path, classes: list[str], pattern: re.Pattern | None, src: Path) -> list[FolderSample]:
    out: list[FolderSample] = []
    if entries is None:
        for label, cls in enumerate(classes):
            d = root / cls
            if not d.is_dir():
                continue
            for p in sorted(d.iterdir()):
                if p.suffix in _SAMPLE_EXTS:
                    out.append(FolderSample(p.stem, p, label, _meta_from_name(p.stem, pattern)))
        if not out:
            raise _err(src, "samples", f"no 'samples' list and no <class>/*.npy|*.csv files below {root}")
        return out
    if not isinstance(entries, list) or not entries:
        raise _err(src, "samples", "must be a non-empty list of {file, label, ...}")
    for i, e in enumerate(entries):
        where = f"samples[{i}]"
        if not isinstance(e, dict) or "file" not in e or "label" not in e:
            raise _err(src, where, "must be a mapping with 'file' and 'label'")
        extra = set(e) - {"file", "label", "name", *META_FIELDS}
        if extra:
            raise _err(src, f"{where}.{sorted(extra)[0]}", f"unknown key (allowed: file, label, name, {', '.join(META_FIELDS)})")
        p = root / str(e["file"])
        if p.suffix not in _SAMPLE_EXTS:
            raise _err(src, f"{where}.file", f"{e['file']!r} must end in .npy or .csv")
        if not p.is_file():
            raise _err(src, f"{where}.file", f"file {p} not found")
        meta = _meta_from_name(p.stem, pattern)
        for f in META_FIELDS:
            if f in e:
                if not isinstance(e[f], int) or isinstance(e[f], bool):
                    raise _err(src, f"{where}.{f}", f"must be an integer, got {e[f]!r}")
                meta[f] = int(e[f])
        out.append(FolderSample(str(e.get("name", p.stem)), p, _label(e["label"], classes, f"{where}.label", src), meta))
    return out


def read_folder_sample(sample: FolderSample, spec: FolderSpec) -> np.ndarray:
    """One sample as canonical ``(C, T, V, M)`` float32; errors name the file."""
    C, V = len(spec.channels), spec.layout.num_joints
    p = sample.path
    if p.suffix == ".npy":
        try:
            a = np.load(p, allow_pickle=False)
        except ValueError as e:
            raise ValueError(f"{p}: not a plain .npy array ({e})") from None
        if a.ndim != len(spec.axes):
            raise ValueError(f"{p}: array has {a.ndim} axes but 'axes' is {spec.axes!r}")
        if not np.issubdtype(a.dtype, np.number):
            raise ValueError(f"{p}: array dtype {a.dtype} is not numeric")
        a = a.transpose([spec.axes.index(ax) for ax in "CTV" + ("M" if "M" in spec.axes else "")])
        if a.ndim == 3:
            a = a[..., None]
    else:
        a = _read_csv(p, spec)
    if a.shape[0] != C or a.shape[2] != V or a.shape[1] < 1:
        raise ValueError(f"{p}: sample shape (C, T, V, M) = {a.shape} does not match {C} channels x {V} joints of layout {spec.layout.name!r}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{p}: contains NaN or infinite values")
    return a


def _read_csv(p: Path, spec: FolderSpec) -> np.ndarray:
    with open(p, newline="") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{p}: empty CSV file") from None
        want = [f"{j}_{c}" for j in spec.layout.names for c in spec.channels]
        col = {h: i for i, h in enumerate(header)}
        missing = [w for w in want if w not in col]
        if missing:
            raise ValueError(f"{p}:1: missing column {missing[0]!r} (expected <Joint>_<channel> for every joint and channel)")
        idx = [col[w] for w in want]
        rows = []
        for lineno, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            try:
                rows.append([float(row[i]) for i in idx])
            except (ValueError, IndexError):
                bad = next((want[k] for k, i in enumerate(idx) if i >= len(row) or not _is_float(row[i])), "?")
                raise ValueError(f"{p}:{lineno}: column {bad!r} is missing or not a number") from None
    if not rows:
        raise ValueError(f"{p}: no data rows after the header")
    a = np.asarray(rows, np.float64).reshape(len(rows), spec.layout.num_joints, len(spec.channels))
    return a.transpose(2, 0, 1)[..., None]


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def resolve_split(selector: Any, spec: FolderSpec, where: str) -> np.ndarray:
    """Indices of the samples a split part selects: a list of sample names or a rule ``{field: [values]}``."""
    src = spec.root / SPEC_FILE
    names = {s.name: i for i, s in enumerate(spec.samples)}
    if isinstance(selector, list):
        missing = [n for n in selector if str(n) not in names]
        if missing:
            raise _err(src, where, f"unknown sample name {missing[0]!r}")
        return np.asarray(sorted(names[str(n)] for n in selector), np.int64)
    if isinstance(selector, dict) and selector:
        keep = np.ones(len(spec.samples), bool)
        for key, values in selector.items():
            if not isinstance(values, list):
                values = [values]
            if key in ("class", "label"):
                labels = [_label(v, spec.classes, f"{where}.{key}", src) for v in values]
                keep &= np.isin([s.label for s in spec.samples], labels)
            elif key in META_FIELDS:
                keep &= np.isin([s.meta.get(key, -1) for s in spec.samples], values)
            else:
                raise _err(src, f"{where}.{key}", f"rules can select by class or {', '.join(META_FIELDS)}")
        return np.flatnonzero(keep).astype(np.int64)
    raise _err(src, where, "must be a list of sample names or a rule mapping like {subject: [1, 2]}")
