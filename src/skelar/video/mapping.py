"""BlazePose-33 landmarks to a skelar joint layout, as data (``mappings/blazepose33.yaml``).

Each joint of the target layout is the mean of one or more BlazePose landmarks, so the mapping is a
``(V_target, 33)`` averaging matrix applied to every frame.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from skelar.layouts import get_layout

__all__ = ["MAPPING_FILE", "blazepose_names", "mapping_matrix", "mapped_layouts", "to_layout"]

MAPPING_FILE = Path(__file__).parent / "mappings" / "blazepose33.yaml"


@lru_cache(maxsize=1)
def _spec() -> dict:
    with open(MAPPING_FILE, encoding="utf-8") as f:
        return yaml.safe_load(f)


def blazepose_names() -> list[str]:
    """The 33 BlazePose landmark names in mediapipe's order."""
    return list(_spec()["source"])


def mapped_layouts() -> list[str]:
    """Layouts that have a BlazePose mapping."""
    return sorted(_spec()["targets"])


@lru_cache(maxsize=None)
def mapping_matrix(layout: str) -> np.ndarray:
    """``(V, 33)`` float32 matrix: row ``v`` averages the landmarks that make joint ``v`` of ``layout``."""
    targets = _spec()["targets"]
    if layout not in targets:
        raise ValueError(f"no BlazePose mapping for layout {layout!r} (have: {', '.join(mapped_layouts())}; see {MAPPING_FILE})")
    names = get_layout(layout).names
    table = targets[layout]
    if sorted(table) != sorted(names):
        missing = sorted(set(names) - set(table)) or sorted(set(table) - set(names))
        raise ValueError(f"{MAPPING_FILE}: mapping for {layout!r} does not match the layout's joints (differs in {', '.join(missing)})")
    index = {n: i for i, n in enumerate(blazepose_names())}
    w = np.zeros((len(names), len(index)), np.float32)
    for v, joint in enumerate(names):
        sources = table[joint]
        unknown = [s for s in sources if s not in index]
        if unknown or not sources:
            raise ValueError(f"{MAPPING_FILE}: {layout}.{joint}: unknown BlazePose landmark(s) {unknown or '(none listed)'}")
        for s in sources:
            w[v, index[s]] = 1.0 / len(sources)
    return w


def to_layout(landmarks: np.ndarray, layout: str) -> np.ndarray:
    """``(..., 33, C)`` landmarks -> ``(..., V, C)`` joints of ``layout``."""
    return np.einsum("vj,...jc->...vc", mapping_matrix(layout), landmarks)
