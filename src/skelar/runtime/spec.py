"""What a trained model needs of its input, as plain data: the checkpoint's preprocessing, portable to ONNX.

The same record drives the PyTorch and the onnxruntime predictors, so both put an input through exactly
the preprocessing the checkpoint records: the dataset pipeline for raw files (``pipeline``), the test
transforms, the number of test clips and their seed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping

from skelar.layouts import JointLayout, adopt_layout, get_layout, layout_from_dict
from skelar.transforms import Compose, build_transforms

__all__ = ["InferenceSpec", "SPEC_FORMAT"]

SPEC_FORMAT = "skelar-inference-spec/1"


@dataclass(frozen=True)
class InferenceSpec:
    """``layout`` is the layout dict (:meth:`JointLayout.to_dict`); ``dataset_pipeline`` the training data's
    preparation record (``{"pipeline": "sgn" | "energy" | "ucla_raw" | ..., ...}``), applied to raw files."""

    model: str
    classes: list[str]
    layout: dict[str, Any]
    num_channels: int
    num_persons: int
    test_transforms: list[dict[str, Any]] = field(default_factory=list)
    test_clips: int = 1
    seed: int = 0
    dataset_pipeline: dict[str, Any] = field(default_factory=dict)
    input_shape: list[int] | None = None

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> "InferenceSpec":
        """From a skelar checkpoint's ``metadata`` (see :mod:`skelar.engine.checkpoint`)."""
        ds = meta.get("dataset") or {}
        pre = meta.get("preprocessing") or {}
        model = meta.get("model") or {}
        kwargs = model.get("kwargs") or {}
        layout = (meta.get("layout") or {}).get("dict") or {}
        if not layout:
            name = (meta.get("layout") or {}).get("name") or kwargs.get("layout")
            layout = get_layout(name).to_dict() if name else {}
        shape = ds.get("input_shape")
        return cls(
            model=str(model.get("name", "")),
            classes=[str(c) for c in ds.get("classes") or []],
            layout=dict(layout),
            num_channels=int(ds.get("num_channels") or (shape[0] if shape else 3)),
            num_persons=int(ds.get("num_persons") or kwargs.get("num_persons") or (shape[3] if shape else 1)),
            test_transforms=[dict(t) for t in pre.get("test_transforms") or []],
            test_clips=int(pre.get("test_clips") or 1),
            seed=int(meta.get("seed", 0) or 0),
            dataset_pipeline=dict(pre.get("dataset") or {}),
            input_shape=[int(s) for s in shape] if shape else None,
        )

    def with_overrides(self, **changes: Any) -> "InferenceSpec":
        """A copy with the given fields replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def num_joints(self) -> int:
        return len(self.layout.get("joints") or [])

    def joint_layout(self, source: str = "model metadata") -> JointLayout | None:
        """The layout, registered under its name when this process does not know it yet."""
        if not self.layout:
            return None
        return adopt_layout(layout_from_dict(self.layout, source=source), source)

    def transform(self, where: str = "test_transforms") -> Compose:
        """The test transforms, built with the model's layout."""
        return build_transforms(self.test_transforms, where=where, layout=self.joint_layout(where))

    def class_name(self, i: int) -> str:
        return self.classes[i] if 0 <= i < len(self.classes) else str(i)

    def to_json(self) -> str:
        return json.dumps({"format": SPEC_FORMAT, **asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "<json>") -> "InferenceSpec":
        try:
            d = json.loads(text)
        except ValueError as e:
            raise ValueError(f"{source}: skelar metadata is not valid JSON ({e})") from None
        if not isinstance(d, dict) or d.pop("format", None) != SPEC_FORMAT:
            raise ValueError(f"{source}: not a skelar inference record (expected format {SPEC_FORMAT!r})")
        try:
            return cls(**d)
        except TypeError as e:
            raise ValueError(f"{source}: skelar metadata does not fit this skelar version ({e})") from None
