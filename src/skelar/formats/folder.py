"""The plain folder format for custom datasets: a ``dataset.yaml`` plus one ``.npy`` or ``.csv`` file per sample.

No code and no pickle: a dataset in any skeleton (declared in YAML) becomes preparable with::

    name: stick5
    layout: stick5_layout.yaml   # a registered name (ntu25, ucla20, coco17, ...), a YAML file relative
                                 # to this folder, or an inline mapping (schema: skelar.layouts.schema)
    classes: [wave, kick]        # label i = classes[i]; optional with 'index' or 'label_pattern'
                                 # (then the sorted distinct labels)
    channels: [x, y, z]          # channel names (default [x, y, z]); CSV columns are <Joint>_<channel>
    axes: TVC                    # axis order of .npy files: a permutation of C,T,V[,M] (default CTVM)
    metadata_pattern: 'P(?P<subject>\\d+)'  # optional regex on file names -> subject/view/setup/replication
    index: index.csv             # optional: one row per sample (name/file, label, subject, split; see folder_index)
    label_pattern: '_a(?P<label>\\d+)'  # optional regex on file names giving the label; without 'index'
                                 # and 'samples' every .npy/.csv directly in the folder is a sample
    samples:                     # optional; default: every <class>/<name>.npy|.csv below the folder
      - {file: clips/a.npy, label: wave, subject: 1}
    splits:                      # optional; protocol -> part -> sample names or a rule
      xsub:
        train: {subject: [1, 2]}            # rule: metadata field in list (or {class: [...]})
        test: [c03, c04]                    # or an explicit list of sample names (file stems)
    val_fraction: 0.1            # val carved from train (by subject when known), unless a 'val' part is given
    val_by: subject              # or sample: a class-stratified carve of samples inside the training subjects
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

from skelar.store.prepared import META_FIELDS
from skelar.formats.axes import parse_axes, to_ctvm
from skelar.formats.folder_index import INDEX_PROTOCOL, RawSample, list_by_pattern, meta_value, read_index, subject_id_array
from skelar.layouts import JointLayout, get_layout, layout_from_dict, load_layout_file
from skelar.store.names import check_path_name
from skelar.store.npy import load_npy
from skelar.yaml_file import read_yaml

__all__ = ["FolderSample", "FolderSpec", "load_folder_spec", "read_folder_sample", "resolve_split", "subject_ids"]

SPEC_FILE = "dataset.yaml"
_SAMPLE_EXTS = (".npy", ".csv")
_SPEC_KEYS = {"name", "layout", "classes", "channels", "axes", "metadata_pattern", "samples", "splits",
              "val_fraction", "val_by", "test_fraction", "description", "index", "label_pattern"}


@dataclass
class FolderSample:
    """One sample file of a plain folder dataset and what its name or index says about it."""

    name: str
    path: Path
    label: int
    meta: dict[str, int | str] = field(default_factory=dict)  # subject may be a string (s01s02)


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
    val_by: str = "subject"


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
    """A class name, else a 0-based index (an int, or digits in a CSV cell)."""
    if isinstance(value, str) and value in classes:
        return classes.index(value)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(classes):
        return value
    raise _err(src, where, f"label {value!r} is neither a class name nor an index 0..{len(classes) - 1}")


def _meta_from_name(stem: str, pattern: re.Pattern | None) -> dict[str, int | str]:
    if pattern is None:
        return {}
    m = pattern.search(stem)
    if not m:
        return {}
    return {k: meta_value(k, v, f"file {stem!r}, metadata_pattern group {k!r}") for k, v in m.groupdict().items()
            if v is not None and k in META_FIELDS}


def _compile(doc: dict[str, Any], key: str, src: Path) -> re.Pattern | None:
    if not doc.get(key):
        return None
    try:
        return re.compile(str(doc[key]))
    except re.error as e:
        raise _err(src, key, f"invalid regular expression: {e}") from None


def _derived_classes(raw: list[RawSample]) -> list[str]:
    """Without a 'classes' key: the distinct labels, in numeric order when they are all digits."""
    labels = {str(r.label) for r in raw}
    return sorted(labels, key=lambda v: (int(v), v) if v.isdigit() else (float("inf"), v))


def load_folder_spec(root: str | os.PathLike) -> FolderSpec:
    """Read and validate ``root/dataset.yaml`` and list the samples; errors name the file and the key."""
    root = Path(root)
    src = root / SPEC_FILE
    if not src.is_file():
        raise FileNotFoundError(f"{root}: no {SPEC_FILE} (see docs/data.md, 'plain folder format')")
    doc = read_yaml(src)
    if not isinstance(doc, dict):
        raise ValueError(f"{src}: expected a mapping at the top level")
    unknown = sorted(set(doc) - _SPEC_KEYS)
    if unknown:
        raise _err(src, unknown[0], f"unknown key (allowed: {', '.join(sorted(_SPEC_KEYS))})")
    if "layout" not in doc:
        raise ValueError(f"{src}: missing key 'layout'")
    layout = _layout(doc["layout"], root, src)
    pattern = _compile(doc, "metadata_pattern", src)
    label_pattern = _compile(doc, "label_pattern", src)
    if label_pattern is not None and "label" not in label_pattern.groupindex:
        raise _err(src, "label_pattern", "needs a named group (?P<label>...)")
    raw = _raw_samples(doc, root, label_pattern, src)
    if "classes" not in doc and raw is None:
        raise ValueError(f"{src}: missing key 'classes' (needed unless 'index' or 'label_pattern' gives the labels)")
    classes = doc["classes"] if "classes" in doc else _derived_classes(raw)
    if not isinstance(classes, list) or not classes or len(set(map(str, classes))) != len(classes):
        raise _err(src, "classes", "must be a non-empty list of distinct class names")
    classes = [str(c) for c in classes]
    channels = doc.get("channels", ["x", "y", "z"])
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        raise _err(src, "channels", "must be a non-empty list of channel names")
    try:
        axes = parse_axes(doc.get("axes", "CTVM"), f"{src}: key 'axes'")
    except ValueError as e:
        raise ValueError(str(e)) from None
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
    val_by = doc.get("val_by", "subject")
    if val_by not in ("subject", "sample"):
        raise _err(src, "val_by", f"must be 'subject' (hold out whole subjects) or 'sample', got {val_by!r}")
    if raw is None:
        samples = _list_samples(doc.get("samples"), root, classes, pattern, src)
    else:
        samples = [FolderSample(r.name, r.path, _label(r.label, classes, f"index ({r.name})", src),
                                {**_meta_from_name(r.path.stem, pattern), **r.meta}) for r in raw]
        splits = _index_splits(raw, splits, src)
    names = [s.name for s in samples]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise _err(src, "samples", f"two samples are named {dup!r} (sample names are file stems and must be unique)")
    name = str(doc.get("name", root.name))
    check_path_name(name, f"{src}: key 'name'")
    for proto in splits:
        check_path_name(proto, f"{src}: key 'splits.{proto}'")
    return FolderSpec(root, name, layout, classes, channels, axes, samples, splits, **fractions, val_by=val_by)



def _raw_samples(doc: dict[str, Any], root: Path, label_pattern: re.Pattern | None, src: Path) -> list[RawSample] | None:
    """Samples from 'index' or from 'label_pattern' on a flat folder; ``None`` when neither applies."""
    if doc.get("index"):
        if "samples" in doc:
            raise _err(src, "index", "give either 'index' or 'samples', not both")
        try:
            return read_index(root / str(doc["index"]), root, label_pattern)
        except FileNotFoundError as e:
            raise _err(src, "index", str(e)) from None
    if label_pattern is not None and "samples" not in doc:
        try:
            return list_by_pattern(root, label_pattern, skip={(root / SPEC_FILE).resolve()})
        except ValueError as e:
            raise _err(src, "label_pattern", str(e)) from None
    return None


def _index_splits(raw: list[RawSample], splits: dict[str, Any], src: Path) -> dict[str, Any]:
    """The index's 'split' column as protocol 'default' (names per part) added to the declared splits."""
    parts: dict[str, list[str]] = {}
    for r in raw:
        if r.part:
            parts.setdefault(r.part, []).append(r.name)
    if not parts:
        return splits
    if not {"train", "test"} <= set(parts):
        raise _err(src, "index", f"the 'split' column names {', '.join(sorted(parts))} but needs both train and test samples")
    if INDEX_PROTOCOL in splits:
        raise _err(src, f"splits.{INDEX_PROTOCOL}", "protocol 'default' is already given by the index's 'split' column")
    return {**splits, INDEX_PROTOCOL: parts}


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
                if isinstance(e[f], bool) or not isinstance(e[f], (int, str)):
                    raise _err(src, f"{where}.{f}", f"must be an integer{' or a string' if f == 'subject' else ''}, got {e[f]!r}")
                try:
                    meta[f] = meta_value(f, e[f], f"{where}.{f}")
                except ValueError as err:
                    raise _err(src, f"{where}.{f}", str(err).split(": ", 1)[1]) from None
        out.append(FolderSample(str(e.get("name", p.stem)), p, _label(e["label"], classes, f"{where}.label", src), meta))
    return out


def read_folder_sample(sample: FolderSample, spec: FolderSpec) -> np.ndarray:
    """One sample as canonical ``(C, T, V, M)`` float32; errors name the file."""
    C, V = len(spec.channels), spec.layout.num_joints
    p = sample.path
    if p.suffix == ".npy":
        a = load_npy(p)
        if a.ndim != len(spec.axes):
            raise ValueError(f"{p}: array has {a.ndim} axes but 'axes' is {spec.axes!r}")
        if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
            raise ValueError(f"{p}: array dtype {a.dtype} is not real-valued (expected float or integer coordinates)")
        a = to_ctvm(a, spec.axes, str(p))
    else:
        a = _read_csv(p, spec)
    if a.shape[0] != C or a.shape[2] != V or a.shape[1] < 1:
        raise ValueError(f"{p}: sample shape (C, T, V, M) = {a.shape} does not match {C} channels x {V} joints of layout {spec.layout.name!r}")
    if not np.isfinite(a).all():
        raise ValueError(f"{p}: contains NaN or infinite values")
    with np.errstate(over="ignore"):
        a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{p}: contains values beyond the float32 range")
    return a


def _read_csv(p: Path, spec: FolderSpec) -> np.ndarray:
    return read_csv_sample(p, spec.layout, spec.channels)


def read_csv_sample(p: Path, layout: JointLayout, channels: list[str]) -> np.ndarray:
    """A one-person CSV (header ``<Joint>_<channel>``, one row per frame) as ``(C, T, V, 1)`` float64."""
    with open(p, newline="") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{p}: empty CSV file") from None
        want = [f"{j}_{c}" for j in layout.names for c in channels]
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
    a = np.asarray(rows, np.float64).reshape(len(rows), layout.num_joints, len(channels))
    return a.transpose(2, 0, 1)[..., None]


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _norm(value: Any) -> int | str:
    """Metadata values compare as integers when they are digits (``1`` == ``"01"``), else as text."""
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else text


def subject_ids(samples: list[FolderSample]) -> tuple[np.ndarray, list[str] | None]:
    """Integer subject per sample (-1 unknown). String subjects get ids 0.. in sorted order, returned as the names list."""
    return subject_id_array([s.meta.get("subject", -1) for s in samples])


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
                wanted = {_norm(v) for v in values}
                keep &= np.asarray([_norm(s.meta.get(key, -1)) in wanted for s in spec.samples], bool)
            else:
                raise _err(src, f"{where}.{key}", f"rules can select by class or {', '.join(META_FIELDS)}")
        return np.flatnonzero(keep).astype(np.int64)
    raise _err(src, where, "must be a list of sample names or a rule mapping like {subject: [1, 2]}")
