"""Northwestern-UCLA Multiview Action 3D, as the ``all_sqe`` JSON release used by CTR-GCN and successors.

One file per sequence, ``aAA_sSS_eEE_vVV.json`` (action, subject 1-10, repetition, view 1-3), holding
``{"file_name": str, "label": 1..10, "skeletons": T x 20 x [x, y, z]}`` (Kinect v1 camera
coordinates in metres, joint order of the ``ucla20`` layout). The 10 action ids a01-a06, a08, a09,
a11, a12 are renumbered to labels 1..10 in the files; skelar uses 0..9.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

__all__ = [
    "UCLA_ACTIONS",
    "UCLA_CLASSES",
    "UCLA_NAME_RE",
    "UclaSequence",
    "parse_ucla_name",
    "read_ucla_json",
    "list_ucla_files",
    "iter_ucla_dir",
    "iter_ucla_results",
]

# raw action id -> name (the dataset has no a07 or a10)
UCLA_ACTIONS: dict[int, str] = {
    1: "pick up with one hand",
    2: "pick up with two hands",
    3: "drop trash",
    4: "walk around",
    5: "sit down",
    6: "stand up",
    8: "donning",
    9: "doffing",
    11: "throw",
    12: "carry",
}
_ACTION_TO_LABEL = {a: i for i, a in enumerate(sorted(UCLA_ACTIONS))}
UCLA_CLASSES: list[str] = [UCLA_ACTIONS[a] for a in sorted(UCLA_ACTIONS)]
UCLA_NAME_RE = re.compile(r"a(\d{2})_s(\d{2})_e(\d{2})_v(\d{2})")
NUM_JOINTS = 20


@dataclass
class UclaSequence:
    """One NW-UCLA sequence: ``skeleton`` is ``(T, 20, 3)`` float64; ``label`` is 0-based."""

    name: str
    label: int
    action: int
    subject: int
    repetition: int
    view: int
    skeleton: np.ndarray

    def to_canonical(self) -> np.ndarray:
        """``(3, T, 20, 1)`` float32."""
        return np.ascontiguousarray(self.skeleton.transpose(2, 0, 1)[..., None], dtype=np.float32)


def parse_ucla_name(name: str) -> dict[str, int]:
    """``"a01_s02_e03_v01"`` (optionally a path ending in ``.json``) -> action, subject, repetition, view, label."""
    base = os.path.basename(str(name))
    if base.endswith(".json"):
        base = base[: -len(".json")]
    m = UCLA_NAME_RE.fullmatch(base)
    if not m:
        raise ValueError(f"{name!r} is not an NW-UCLA sequence name (aAA_sSS_eEE_vVV)")
    action, subject, repetition, view = (int(g) for g in m.groups())
    if action not in _ACTION_TO_LABEL:
        raise ValueError(f"{name!r}: action a{action:02d} is not one of NW-UCLA's 10 actions")
    return {"action": action, "subject": subject, "repetition": repetition, "view": view, "label": _ACTION_TO_LABEL[action]}


def read_ucla_json(path: str | os.PathLike) -> UclaSequence:
    """Read and validate one ``all_sqe`` JSON file; errors name the file and the offending key."""
    path = Path(path)
    meta = parse_ucla_name(path.name)
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason}); expected a JSON file") from None
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply (expected {{'skeletons': T x {NUM_JOINTS} x 3}})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a JSON object with key 'skeletons', got {type(doc).__name__}")
    if "skeletons" not in doc:
        raise ValueError(f"{path}: missing key 'skeletons'")
    try:
        skel = np.array(doc["skeletons"], dtype=np.float64)
    except (ValueError, TypeError):
        raise ValueError(f"{path}: key 'skeletons' must be a T x {NUM_JOINTS} x 3 array of numbers (ragged or non-numeric)") from None
    if skel.ndim != 3 or skel.shape[1:] != (NUM_JOINTS, 3) or skel.shape[0] < 1:
        raise ValueError(f"{path}: key 'skeletons' must have shape (T>=1, {NUM_JOINTS}, 3), got {skel.shape}")
    if not np.isfinite(skel).all():
        raise ValueError(f"{path}: key 'skeletons' contains non-finite values")
    if "label" in doc:
        lab = doc["label"]
        if not isinstance(lab, int) or isinstance(lab, bool) or lab - 1 != meta["label"]:
            raise ValueError(f"{path}: key 'label' is {lab!r} but the name's action a{meta['action']:02d} means label {meta['label'] + 1}")
    if "file_name" in doc and doc["file_name"] != path.stem:
        raise ValueError(f"{path}: key 'file_name' is {doc['file_name']!r}, expected {path.stem!r}")
    return UclaSequence(name=path.stem, skeleton=skel, **meta)


def list_ucla_files(src: str | os.PathLike) -> list[Path]:
    """The sequence files of an ``all_sqe`` folder (or of its parent), sorted by name (other files are ignored)."""
    src = Path(src)
    if (src / "all_sqe").is_dir():
        src = src / "all_sqe"
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: NW-UCLA folder not found (expected the all_sqe/ directory of aAA_sSS_eEE_vVV.json files)")
    files = sorted(p for p in src.iterdir() if p.suffix == ".json" and UCLA_NAME_RE.fullmatch(p.stem))
    if not files:
        raise FileNotFoundError(f"{src}: no aAA_sSS_eEE_vVV.json files (point --src at the all_sqe/ directory)")
    return files


def iter_ucla_dir(src: str | os.PathLike) -> Iterator[UclaSequence]:
    """Read every sequence of an ``all_sqe`` folder in name order (the first bad file raises)."""
    for p in list_ucla_files(src):
        yield read_ucla_json(p)


def iter_ucla_results(src: str | os.PathLike) -> Iterator[UclaSequence | ValueError]:
    """Every file of an ``all_sqe`` folder in name order: its sequence, or the error (naming the file)
    that makes it unusable, so a caller can report bad files and keep the good ones. The folder is listed
    at once (a missing or empty folder raises here, before anything is read)."""
    files = list_ucla_files(src)

    def results() -> Iterator[UclaSequence | ValueError]:
        for p in files:
            try:
                yield read_ucla_json(p)
            except ValueError as e:
                yield e

    return results()
