"""Sample lists for the folder format: an index CSV (one row per sample), or file names matched by a pattern.

Index CSV columns (header row required; other columns are ignored)::

    name      sample name; the file is <name>.npy or <name>.csv in the folder (or give 'file')
    file      the sample's path relative to the folder (instead of, or as well as, 'name')
    label     class name (or 0-based index into 'classes'); optional when 'label_pattern' is given
    subject   any string (s01, s01s02, 7); digits-only values count as integers
    split     train, val or test: the parts of protocol 'default' (empty: the sample is in no part)
    view, setup, replication   integers (optional)
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RawSample", "meta_value", "subject_id_array", "read_index", "list_by_pattern", "INDEX_PROTOCOL"]

INDEX_PROTOCOL = "default"
_INT_FIELDS = ("view", "setup", "replication")
_EXTS = (".npy", ".csv")


@dataclass
class RawSample:
    """A sample before class names are resolved: ``label`` is the raw text (or index) from the source."""

    name: str
    path: Path
    label: Any
    meta: dict[str, Any] = field(default_factory=dict)
    part: str | None = None


def meta_value(key: str, value: Any, where: str) -> int | str:
    """``subject`` may be any string (digits-only ones become ints); the other fields must be integers."""
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if key == "subject" and text:
        return text
    raise ValueError(f"{where}: {key} must be an integer{'' if key != 'subject' else ' or a non-empty string'}, got {value!r}")


def subject_id_array(values: list[int | str]) -> tuple[np.ndarray, list[str] | None]:
    """Integer subject ids (-1 unknown): integers as they are; if any subject is a string, ids 0.. over the
    sorted distinct names, returned as the second element (``None`` when all were integers)."""
    if all(isinstance(v, int) for v in values):
        return np.asarray(values, np.int64), None
    names = sorted({str(v) for v in values if v != -1})
    return np.asarray([names.index(str(v)) if v != -1 else -1 for v in values], np.int64), names


def label_from_name(stem: str, pattern: re.Pattern | None, where: str) -> str | None:
    if pattern is None:
        return None
    m = pattern.search(stem)
    if not m or m.groupdict().get("label") is None:
        raise ValueError(f"{where}: 'label_pattern' does not match file name {stem!r}")
    return m.group("label")


def read_index(path: Path, root: Path, label_pattern: re.Pattern | None) -> list[RawSample]:
    """Rows of an index CSV as :class:`RawSample` s; errors name the file and the line."""
    if not path.is_file():
        raise FileNotFoundError(f"index file {path} not found")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path}: empty index file")
    header = [h.strip().lower() for h in rows[0]]
    col = {h: i for i, h in enumerate(header) if h}
    if "name" not in col and "file" not in col:
        raise ValueError(f"{path}:1: the header needs a 'name' or a 'file' column (found: {', '.join(header)})")
    if "label" not in col and label_pattern is None:
        raise ValueError(f"{path}:1: no 'label' column and no 'label_pattern' in dataset.yaml")
    out = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        where = f"{path}:{lineno}"

        def get(key: str, row: list[str] = row) -> str:
            return row[col[key]].strip() if key in col and col[key] < len(row) else ""

        name, file = get("name"), get("file")
        p = root / file if file else _find_file(root, name, where)
        if p.suffix not in _EXTS:
            raise ValueError(f"{where}: file {p.name!r} must end in .npy or .csv")
        if not p.is_file():
            raise ValueError(f"{where}: file {p} not found")
        name = name or p.stem
        label = get("label") or label_from_name(p.stem, label_pattern, where)
        if label in (None, ""):
            raise ValueError(f"{where}: empty label")
        meta = {k: meta_value(k, get(k), f"{where}: column {k!r}") for k in ("subject", *_INT_FIELDS) if get(k)}
        part = get("split").lower() or None
        if part is not None and part not in ("train", "val", "test"):
            raise ValueError(f"{where}: column 'split' must be train, val or test, got {part!r}")
        out.append(RawSample(name, p, label, meta, part))
    if not out:
        raise ValueError(f"{path}: no sample rows after the header")
    return out


def _find_file(root: Path, name: str, where: str) -> Path:
    if not name:
        raise ValueError(f"{where}: empty 'name' and no 'file'")
    found = [root / f"{name}{ext}" for ext in _EXTS if (root / f"{name}{ext}").is_file()]
    if len(found) != 1:
        raise ValueError(f"{where}: {'no' if not found else 'two'} file(s) {name}.npy / {name}.csv in {root}")
    return found[0]


def list_by_pattern(root: Path, label_pattern: re.Pattern, skip: set[Path]) -> list[RawSample]:
    """Every ``.npy`` / ``.csv`` file directly in ``root`` (except ``skip``), labelled by ``label_pattern``."""
    out = []
    for p in sorted(root.iterdir()):
        if p.suffix in _EXTS and p.is_file() and p.resolve() not in skip:
            out.append(RawSample(p.stem, p, label_from_name(p.stem, label_pattern, p.name)))
    if not out:
        raise ValueError(f"{root}: no .npy or .csv sample files in the folder")
    return out
