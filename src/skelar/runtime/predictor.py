"""A backend-agnostic predictor: inputs of any format -> the recorded preprocessing -> clip-averaged logits -> top-k.

The backend is one function from a stack of test clips ``(K, C, T, V, M)`` to their logits ``(K, classes)``
(PyTorch in :mod:`skelar.engine.inference`, onnxruntime in :mod:`skelar.runtime.onnx`), so both backends
share the readers, the preprocessing and the per-sample clip seeds, and give the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from skelar.data.samples import Sample, read_samples
from skelar.formats.axes import parse_axes, to_ctvm
from skelar.runtime.clips import array_name, fit_persons, make_clips
from skelar.runtime.spec import InferenceSpec
from skelar.runtime.topk import top_k_row
from skelar.transforms import Compose

__all__ = ["Predictor"]




@dataclass
class Predictor:
    """``forward(clips (K, C, T, V, M) float32) -> logits (K, classes)``; ``source`` names the model in errors.

    ``forward`` may also return ``(logits, {name: (K, ...) array})``: extra per-clip outputs (LTSCL's
    predicted future frames); the rows then carry the first clip's.
    """

    spec: InferenceSpec
    forward: Callable[[np.ndarray], np.ndarray]
    source: str = "model"

    def __post_init__(self) -> None:
        self._transform: Compose = self.spec.transform(where=f"{self.source}: test_transforms")
        self._layout = self.spec.joint_layout()
        self._extras: dict[str, np.ndarray] = {}

    @property
    def classes(self) -> list[str]:
        return list(self.spec.classes)

    def samples(self, inputs: Any, select: Sequence[str] | None = None, trust_pickle: bool = False,
                axes: str | None = None) -> Iterator[Sample]:
        """The samples of ``inputs``: paths (any format :func:`read_samples` reads), arrays, or ``{name: array}``;
        ``axes`` is the axis order of ``.npy`` files and arrays (e.g. ``MTVC``; default ``(C, T, V, M)`` or ``(T, V, C)``)."""
        if isinstance(inputs, (str, Path, np.ndarray)):
            inputs = [inputs]
        if isinstance(inputs, Mapping):
            items: Iterable[tuple[str | None, Any]] = inputs.items()
        else:
            items = ((None, x) for x in inputs)
        for name, item in items:
            if isinstance(item, np.ndarray):
                yield self._array_sample(item, name, axes)
            else:
                yield from read_samples(item, self._layout, self.spec.num_channels, self.spec.dataset_pipeline, select, trust_pickle, axes)

    def _array_sample(self, x: np.ndarray, name: str | None, axes: str | None) -> Sample:
        name = name or array_name(x)
        v, c = self.spec.num_joints, self.spec.num_channels
        if axes:
            x = to_ctvm(x, parse_axes(axes, "axes"), f"array {name}")
        elif x.ndim == 3 and x.shape[1:] == (v, c):
            x = x.transpose(2, 0, 1)[..., None]
        if x.ndim != 4 or x.shape[0] != c or (v and x.shape[2] != v):
            raise ValueError(f"array {name}: shape {x.shape} is neither (C, T, V, M) nor (T, V, C) with C={c}, V={v}")
        if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
            raise ValueError(f"array {name}: dtype {x.dtype} is not real-valued")
        if not np.isfinite(x).all() or not np.isfinite(x.astype(np.float32)).all():
            raise ValueError(f"array {name}: contains NaN, infinite or beyond-float32 values")
        return Sample("<array>", name, np.asarray(x, np.float32), layout=self._layout)

    def _check(self, s: Sample) -> np.ndarray:
        where = s.source if s.source == s.name or s.source == "<array>" else f"{s.source} ({s.name})"
        want = self._layout
        if want is not None and s.data.shape[2] != want.num_joints:
            got = f"layout {s.layout.name!r} ({s.data.shape[2]} joints)" if s.layout is not None else f"{s.data.shape[2]} joints"
            raise ValueError(f"{where}: {got} does not match the model's layout {want.name!r} ({want.num_joints} joints)")
        if want is not None and s.layout is not None and s.layout.names != want.names:
            raise ValueError(f"{where}: the joints of layout {s.layout.name!r} are not the model's {want.name!r} (names or order differ)")
        if s.data.shape[1] == 0:
            raise ValueError(f"{where}: the sequence has 0 frames; there is nothing to predict")
        if s.data.shape[0] != self.spec.num_channels:
            raise ValueError(f"{where}: {s.data.shape[0]} channels but the model takes {self.spec.num_channels}")
        return fit_persons(s.data, self.spec.num_persons, where)

    def logits(self, sample: Sample) -> np.ndarray:
        """Clip-averaged logits ``(classes,)`` of one sample, its clips seeded by its name."""
        x = self._check(sample)
        clips = make_clips(x, self._transform, self.spec.test_clips, self.spec.seed, sample.name, f"{sample.source} ({sample.name})")
        out = self.forward(clips)
        out, self._extras = out if isinstance(out, tuple) else (out, {})
        return np.asarray(out, np.float64).mean(axis=0)

    def row(self, sample: Sample, top_k: int = 5) -> dict[str, Any]:
        """``{input, name, top: [{index, class, prob}], label?, label_class?}`` for one sample."""
        row: dict[str, Any] = {"input": sample.source, "name": sample.name, "top": top_k_row(self.logits(sample), self.spec.classes, top_k)}
        if sample.label is not None:
            row["label"] = sample.label
            row["label_class"] = sample.label_name
        for key, value in self._extras.items():
            row[key] = np.asarray(value[0], np.float64).round(6).tolist()
        return row

    def predict(self, inputs: Any, top_k: int = 5, select: Sequence[str] | None = None, trust_pickle: bool = False,
                axes: str | None = None) -> list[dict[str, Any]]:
        """One :meth:`row` per sample of ``inputs`` (see :meth:`samples`)."""
        return [self.row(s, top_k) for s in self.samples(inputs, select, trust_pickle, axes)]
