"""Spatio-temporal invariant descriptor images (adjkamel/imdar): GD, JDD, ADD, LAD and FDD.

A skeleton sequence becomes five square images (reference-notes §4.2): GD (graph descriptor, RGB = x, y, z
of ``P^T D^-1 (A + I)``, joints x frames), JDD (joint-pair distances over the body size, pairs x frames),
ADD (joint displacement between adjacent frames), LAD (limb angles) and FDD (JDD, ADD, LAD as R, G, B).
Each matrix is min-max scaled to 0-255, floored to uint8 and resized to ``size`` x ``size`` with Pillow's
bicubic filter, as the reference does.

The transform ``descriptors`` turns a canonical ``(C, T, V, M)`` sample into network input of shape
``(3, size, size, K)``, one image per requested descriptor in the last axis (``K = 1`` for a
single-descriptor CNN, ``K = 5`` for the fusion network, whose order is ``GD, FDD, JDD, ADD, LAD``).

``mode="faithful"`` is the released code: its slips in JDD/LAD/GD (see the spec and docs/models.md), and the
network input as its loader reads the PNG files (OpenCV: BGR channel order, grey images replicated to three
channels, raw 0-255 floats). ``mode="corrected"`` fixes the slips, feeds RGB and scales pixels to [0, 1].
In both modes a constant matrix gives a zero image (the reference would divide 0 by 0), a one-frame
sequence a zero ADD image, and NaN/inf input an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from skelar.layouts import get_layout
from skelar.transforms.base import register_transform
from skelar.transforms.descriptor_maths import displacement_matrix, graph_matrix, joint_distance_matrix, limb_angle_matrix, scale_to_255
from skelar.transforms.descriptor_spec import DescriptorSpec, descriptor_spec

__all__ = ["DESCRIPTORS", "FUSION_ORDER", "descriptor_matrices", "descriptor_images", "Descriptors", "save_pngs"]

DESCRIPTORS = ("GD", "JDD", "ADD", "LAD", "FDD")
FUSION_ORDER = ("GD", "FDD", "JDD", "ADD", "LAD")  # the order Fuse5 takes its inputs in
MODES = ("faithful", "corrected")


def _bodies(x: np.ndarray, center: int, faithful: bool, do_center: bool) -> np.ndarray:
    """``(C, T, V, M)`` -> ``(B, T, V, 3)`` float64: body 0, plus body 1 if it is ever non-zero (centred)."""
    if x.ndim != 4 or x.shape[0] < 3:
        raise ValueError(f"descriptors: expected a (C>=3, T, V, M) sample, got shape {tuple(x.shape)}")
    if x.shape[1] < 1:
        raise ValueError("descriptors: the sequence has no frames")
    p = np.asarray(x[:3], dtype=np.float64).transpose(3, 1, 2, 0)  # (M, T, V, 3)
    if not np.isfinite(p).all():
        raise ValueError("descriptors: the sequence contains NaN or infinite coordinates")
    two = p.shape[0] >= 2 and bool(np.any(p[1] != 0))
    p = p[:2] if two else p[:1]
    if do_center:
        origin = p[0, 0, center].copy()
        if faithful:
            p = p - origin  # every joint of every frame, absent ones included (as the reference)
        else:
            present = np.abs(p).max(axis=(2, 3), keepdims=True) > 0
            p = np.where(present, p - origin, 0.0)
    return np.ascontiguousarray(p)


def descriptor_matrices(x: np.ndarray, spec: DescriptorSpec, mode: str = "faithful", center: int | None = None) -> dict[str, np.ndarray]:
    """The uint8 matrices before resizing: ``GD (B*V, T, 3)``, ``JDD (B*P, T)``, ``ADD (B*V, T-1)``, ``LAD (B*A, T)``.

    ``center``: joint whose frame-0 position (body 0) is subtracted first (the reference uses the layout
    centre); ``None`` skips centring.
    """
    if mode not in MODES:
        raise ValueError(f"descriptors: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if x.shape[2] != spec.num_joints:
        raise ValueError(f"descriptors: sample has {x.shape[2]} joints, layout {spec.layout!r} has {spec.num_joints}")
    faithful = mode == "faithful"
    bodies = _bodies(x, 0 if center is None else center, faithful, center is not None)
    return {
        "GD": scale_to_255(graph_matrix(bodies, spec, faithful), per_channel=True),
        "JDD": scale_to_255(joint_distance_matrix(bodies, spec, faithful)),
        "ADD": scale_to_255(displacement_matrix(bodies)),
        "LAD": scale_to_255(limb_angle_matrix(bodies, spec, faithful)),
    }


def _resize(m: np.ndarray, size: int) -> np.ndarray:
    if m.size == 0:
        return np.zeros((size, size) + m.shape[2:], dtype=np.uint8)
    return np.asarray(Image.fromarray(m).resize((size, size)))  # Pillow's default filter (bicubic)


def descriptor_images(matrices: dict[str, np.ndarray], size: int = 112, which: Sequence[str] = DESCRIPTORS) -> dict[str, np.ndarray]:
    """Resize the matrices to ``size`` x ``size`` uint8 images; FDD merges the resized JDD, ADD, LAD as RGB."""
    out: dict[str, np.ndarray] = {}
    need = set(which) | ({"JDD", "ADD", "LAD"} if "FDD" in which else set())
    for name in ("GD", "JDD", "ADD", "LAD"):
        if name in need:
            out[name] = _resize(matrices[name], size)
    if "FDD" in which:
        out["FDD"] = np.stack([out["JDD"], out["ADD"], out["LAD"]], axis=-1)
    return {k: out[k] for k in which}


def save_pngs(images: dict[str, np.ndarray], directory: str | Path, stem: str = "sample") -> list[Path]:
    """Write each image as ``<directory>/<stem>_<NAME>.png`` (for inspection); returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, img in images.items():
        path = directory / f"{stem}_{name}.png"
        Image.fromarray(img).save(path)
        paths.append(path)
    return paths


def _network_input(img: np.ndarray, faithful: bool) -> np.ndarray:
    """``(3, S, S)`` float32: faithful = OpenCV's read of the PNG (BGR, grey replicated, 0-255); else RGB / 255."""
    chw = np.repeat(img[None], 3, axis=0) if img.ndim == 2 else img.transpose(2, 0, 1)
    if faithful:
        return chw[::-1].astype(np.float32)
    return chw.astype(np.float32) / 255.0


@register_transform("descriptors")
class Descriptors:
    """Sample ``(C, T, V, M)`` -> descriptor images ``(3, size, size, K)`` for ``descriptors`` (names or one name).

    ``layout`` is the dataset's joint layout (the engine fills it in); ``spec`` an optional descriptor-spec
    YAML overriding the bundled/derived joint sets; ``center`` subtracts the layout centre of frame 0 first.
    """

    def __init__(
        self,
        layout: str,
        descriptors: str | Sequence[str] = FUSION_ORDER,
        mode: str = "corrected",
        size: int = 112,
        spec: str | None = None,
        center: bool = True,
    ):
        names = [descriptors] if isinstance(descriptors, str) else list(descriptors)
        bad = [n for n in names if n not in DESCRIPTORS]
        if bad or not names:
            raise ValueError(f"descriptors: unknown descriptor {bad[0] if bad else '(none)'!r}; choose from {', '.join(DESCRIPTORS)}")
        if mode not in MODES:
            raise ValueError(f"descriptors: mode must be one of {', '.join(MODES)}, got {mode!r}")
        if int(size) < 1:
            raise ValueError(f"descriptors: size must be >= 1, got {size}")
        self.layout = get_layout(layout)
        self.spec = descriptor_spec(self.layout, spec)
        self.names = tuple(names)
        self.mode = mode
        self.size = int(size)
        self.center = self.layout.center if center else None

    def images(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The uint8 images (HxW grey or HxWx3 RGB) of the requested descriptors."""
        return descriptor_images(descriptor_matrices(x, self.spec, self.mode, self.center), self.size, self.names)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        imgs = self.images(x)
        faithful = self.mode == "faithful"
        return np.stack([_network_input(imgs[n], faithful) for n in self.names], axis=-1)

    def __repr__(self) -> str:
        return f"Descriptors({list(self.names)}, layout={self.layout.name!r}, mode={self.mode!r}, size={self.size})"
