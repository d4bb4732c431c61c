"""NTU RGB+D evaluation protocols from sample names, and the NTU authors' missing-skeleton lists.

* NTU60 ``xsub`` (cross-subject): 20 training performers, the other 20 test.
* NTU60 ``xview`` (cross-view): cameras 2 and 3 train, camera 1 test.
* NTU120 ``xsub``: 53 training performers (the NTU60 list is its prefix), the other 53 test.
* NTU120 ``xset`` (cross-setup): even setup ids train, odd ones test.

On the official usable-sample lists (56,578 / 113,945 names) these give 40,091/16,487 and 37,646/18,932
(NTU60) and 63,026/50,919 and 54,468/59,477 (NTU120) train/test samples.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from skelar.formats.ntu_skeleton import NTU_NAME_RE, parse_ntu_name

__all__ = [
    "NTU60_TRAIN_SUBJECTS",
    "NTU120_TRAIN_SUBJECTS",
    "NTU_PROTOCOLS",
    "NTU_LIMITS",
    "name_fields",
    "protocol_is_train",
    "protocol_split",
    "sgn_reference_split",
    "in_dataset",
    "read_missing_list",
]

NTU60_TRAIN_SUBJECTS: tuple[int, ...] = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
NTU120_TRAIN_SUBJECTS: tuple[int, ...] = NTU60_TRAIN_SUBJECTS + (
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93,
    94, 95, 97, 98, 100, 103,
)
NTU_PROTOCOLS: dict[str, tuple[str, ...]] = {"ntu60": ("xsub", "xview"), "ntu120": ("xsub", "xset")}
# highest setup / performer / action id of each dataset
NTU_LIMITS: dict[str, dict[str, int]] = {
    "ntu60": {"setup": 17, "performer": 40, "action": 60},
    "ntu120": {"setup": 32, "performer": 106, "action": 120},
}


def _check_dataset(dataset: str) -> None:
    if dataset not in NTU_PROTOCOLS:
        raise ValueError(f"unknown NTU dataset {dataset!r} (expected ntu60 or ntu120)")


def name_fields(names: Sequence[str]) -> dict[str, np.ndarray]:
    """Columns setup, camera, performer, replication, action (int64) of sample names."""
    parsed = [parse_ntu_name(n) for n in names]
    keys = ("setup", "camera", "performer", "replication", "action")
    return {k: np.asarray([p[k] for p in parsed], dtype=np.int64).reshape(-1) for k in keys}


def in_dataset(fields: dict[str, np.ndarray], dataset: str) -> np.ndarray:
    """Which samples belong to ``dataset`` (NTU60 is setups 1-17, actions 1-60)."""
    _check_dataset(dataset)
    lim = NTU_LIMITS[dataset]
    ok = np.ones(len(fields["setup"]), bool)
    for k, hi in lim.items():
        ok &= (fields[k] >= 1) & (fields[k] <= hi)
    return ok & (fields["camera"] >= 1) & (fields["camera"] <= 3)


def protocol_is_train(fields: dict[str, np.ndarray], dataset: str, protocol: str) -> np.ndarray:
    """Boolean training membership; every other sample is test."""
    _check_dataset(dataset)
    if protocol not in NTU_PROTOCOLS[dataset]:
        raise ValueError(f"{dataset} has no protocol {protocol!r} (known: {', '.join(NTU_PROTOCOLS[dataset])})")
    if protocol == "xsub":
        subjects = NTU60_TRAIN_SUBJECTS if dataset == "ntu60" else NTU120_TRAIN_SUBJECTS
        return np.isin(fields["performer"], subjects)
    if protocol == "xview":
        return np.isin(fields["camera"], (2, 3))
    return fields["setup"] % 2 == 0  # xset


def protocol_split(fields: dict[str, np.ndarray], dataset: str, protocol: str) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, test_idx)``, each in ascending sample order."""
    train = protocol_is_train(fields, dataset, protocol)
    return np.flatnonzero(train), np.flatnonzero(~train)


def sgn_reference_split(performer: np.ndarray, camera: np.ndarray, evaluation: str) -> tuple[np.ndarray, np.ndarray]:
    """NTU60 indices in the order SGN's ``get_indices`` emits them (grouped by subject for ``"CS"``, by
    camera for ``"CV"``; list order inside a group). Only for parity checks: skelar stores sorted splits."""
    performer, camera = np.asarray(performer), np.asarray(camera)
    if evaluation == "CS":
        test_ids = [s for s in range(1, 41) if s not in NTU60_TRAIN_SUBJECTS]
        groups_train = [np.flatnonzero(performer == s) for s in NTU60_TRAIN_SUBJECTS]
        groups_test = [np.flatnonzero(performer == s) for s in test_ids]
    elif evaluation == "CV":
        groups_train = [np.flatnonzero(camera == c) for c in (2, 3)]
        groups_test = [np.flatnonzero(camera == 1)]
    else:
        raise ValueError(f"evaluation must be 'CS' or 'CV', got {evaluation!r}")
    return np.concatenate(groups_train), np.concatenate(groups_test)


def read_missing_list(path: str | os.PathLike) -> set[str]:
    """Sample names in an NTU missing-skeleton list.

    Accepts the authors' files (``NTU_RGBD_samples_with_missing_skeletons.txt``, 302 names, and
    ``NTU_RGBD120_samples_with_missing_skeletons.txt``, 535 names: up to three header lines, then one
    name per line) and plain name lists. Any other non-empty line after the header is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing-skeleton list not found")
    names: set[str] = set()
    seen_name = False
    for no, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        s = line.strip()
        if s.endswith(".skeleton"):
            s = s[: -len(".skeleton")]
        if NTU_NAME_RE.fullmatch(s):
            names.add(s)
            seen_name = True
        elif s and (seen_name or no > 3):
            raise ValueError(f"{path}:{no}: not an NTU sample name: {s[:60]!r}")
    return names

