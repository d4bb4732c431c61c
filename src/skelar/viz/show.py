"""``show_sample``: one sample of any format drawn as an animation, optionally beside its transformed self."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from skelar.data.samples import Sample, read_samples
from skelar.runtime.clips import sample_seed
from skelar.transforms import build_transforms
from skelar.viz.panels import Panel
from skelar.viz.render import render

__all__ = ["show_sample", "pick_sample", "panel_dims"]


def pick_sample(source: str | Path, name: str | None = None, layout: str | None = None, trust_pickle: bool = False) -> Sample:
    """The one sample of ``source`` (``name`` chooses within a prepared dataset or PYSKL pickle)."""
    samples = read_samples(source, layout, None, None, [name] if name else None, trust_pickle)
    first = next(samples, None)
    if first is None:
        raise ValueError(f"{source}: no samples")
    if next(samples, None) is not None:
        raise ValueError(f"{source}: holds several samples; choose one with --sample NAME")
    return first


def panel_dims(sample_channels: Sequence[str], num_channels: int, flat: bool) -> tuple[int, bool]:
    """``(dims, y_down)``: 3D unless ``flat`` or the data is 2D (2 channels, or x, y, score); 2D data is in image
    coordinates (y down), 3D data projected flat keeps y up."""
    native_2d = num_channels < 3 or (len(sample_channels) >= 3 and sample_channels[2] == "score")
    return (2, native_2d) if flat or native_2d else (3, False)


def _label_line(sample: Sample, prediction: dict[str, Any] | None) -> str:
    parts = [sample.name]
    if sample.label_name is not None:
        parts.append(f"true: {sample.label_name}")
    if prediction is not None:
        top = prediction["top"][0]
        parts.append(f"predicted: {top['class']} ({100 * top['prob']:.0f}%)")
    return " | ".join(parts)


def show_sample(
    source: str | Path,
    out: str | Path,
    name: str | None = None,
    layout: str | None = None,
    flat: bool = False,
    view: tuple[float, float] = (15.0, -70.0),
    transforms: Sequence[dict[str, Any]] | None = None,
    transforms_title: str = "after transforms",
    predictor: Any = None,
    trust_pickle: bool = False,
    seed: int = 0,
    **render_kw: Any,
) -> dict[str, Any]:
    """Render ``source`` (any format :func:`read_samples` reads; ``name`` picks a sample) to ``out``.

    ``transforms`` (transform specs, e.g. a config's ``data.test_transforms``) add a second panel with
    the transformed sample (random transforms seeded by ``seed`` and the sample's name). ``predictor``
    (a :class:`skelar.runtime.Predictor`) adds the predicted class to the title, computed from the
    source with the model's own preprocessing. Returns ``{path, frames, sample, prediction}``.
    """
    s = pick_sample(source, name, layout, trust_pickle)
    lay = s.layout
    if lay is None:
        raise ValueError(f"{source}: the sample's joint layout is unknown; name it (--layout)")
    dims, y_down = panel_dims(s.channels, s.data.shape[0], flat)
    panels = [Panel(s.data, lay, "as read" if transforms else "", dims, y_down)]
    if transforms:
        x = build_transforms(list(transforms), where="transforms", layout=lay)(s.data, np.random.default_rng([seed, sample_seed(s.name)]))
        if x.ndim != 4 or x.shape[2] != lay.num_joints:
            raise ValueError(f"the transforms make shape {x.shape} of {s.name}; only (C, T, V, M) with the same {lay.num_joints} joints can be drawn")
        d2, y2 = panel_dims(s.channels, x.shape[0], flat)
        panels.append(Panel(x, lay, transforms_title, d2, y2))
    prediction = None
    if predictor is not None:
        prediction = predictor.predict(source, top_k=3, select=[s.name] if name else None, trust_pickle=trust_pickle)[0]
    info = render(panels, out, view=view, title=_label_line(s, prediction), **render_kw)
    return {**info, "sample": s.name, "prediction": prediction}
