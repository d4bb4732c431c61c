"""skelar's built-in dataset: procedurally generated skeleton actions in the NTU-25 layout.

Every sample is a person (optionally with an idle bystander) performing one of
:data:`SYNTHETIC_CLASSES`, seen by a Kinect-like camera: metres, camera coordinates with x to the
right, y up and z away from the camera. Subjects differ in size, proportions, posture, tempo,
amplitude and style; views differ in azimuth (0, -45, +45 degrees, ...), distance, height and tilt;
recordings carry Gaussian sensor jitter and occasional Kinect-style dropouts (joints, or whole
frames, set to zero). A sample depends only on ``(spec, label, subject, view, repetition)``: its
random generator is seeded from ``(seed, label, subject, view, repetition)``, and the subject's and
view's traits from ``(seed, subject)`` and ``(seed, view)``, so the corpus is reproducible bit for
bit in any generation order. The body model and the action programs live in
:mod:`skelar.data.synthetic_motion`. See ``docs/synthetic.md``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import asdict, dataclass
from typing import Any, Iterator

import numpy as np
from tqdm import tqdm

from skelar.store.prepared import PreparedDataset, PreparedWriter, SampleMeta
from skelar.store.splits import carve_validation
from skelar.data.synthetic_motion import (
    ACTIONS,
    add_habits,
    idle_motion,
    make_context,
    make_subject,
    pose_body,
    rot_x,
    rot_y,
    rot_z,
)

__all__ = [
    "SYNTHETIC_CLASSES",
    "SyntheticSpec",
    "view_azimuth",
    "generate_sample",
    "iter_synthetic",
    "synthetic_splits",
    "xsub_test_subjects",
    "sample_name",
    "write_synthetic_dataset",
]

SYNTHETIC_CLASSES: list[str] = [name for name, _, _ in ACTIONS]

# camera azimuths (degrees) of views 1, 2, 3, ...: frontal first, then alternating sides
_AZIMUTHS = (0.0, -45.0, 45.0, -22.5, 22.5, -67.5, 67.5, -90.0, 90.0)
# tags that keep the subject, view and sample random streams apart
_SUBJECT_TAG, _VIEW_TAG, _SAMPLE_TAG = 101, 202, 303
# sensor jitter multiplier per joint: trunk 1, elbows/knees 1.5, wrists/hands/ankles/feet 2
_JITTER = np.array([1, 1, 1, 1, 1, 1.5, 2, 2, 1, 1.5, 2, 2, 1, 1.5, 2, 2, 1, 1.5, 2, 2, 1, 2, 2, 2, 2], dtype=np.float64)
# joint groups that Kinect tends to lose together
_DROPOUT_GROUPS = (
    (6, 7, 21, 22),  # left hand
    (10, 11, 23, 24),  # right hand
    (5, 6, 7, 21, 22),  # left forearm and hand
    (9, 10, 11, 23, 24),  # right forearm and hand
    (14, 15),  # left foot
    (18, 19),  # right foot
    (13, 14, 15),  # left shin and foot
    (17, 18, 19),  # right shin and foot
)
_FRAME_DROPOUT_PROB = 0.15  # share of dropout bursts that lose the whole skeleton


@dataclass
class SyntheticSpec:
    """What to generate. Defaults make the demo corpus (12 classes x 24 subjects x 3 views x 2
    repetitions = 1,728 samples of 40-120 frames, one person)."""

    num_classes: int = 12
    num_subjects: int = 24
    num_views: int = 3
    repetitions: int = 2
    min_frames: int = 40
    max_frames: int = 120
    two_person: float = 0.0  # probability of an idle second person (0 = none; M is then 1)
    noise_std: float = 0.01  # sensor jitter (m) on trunk joints; extremities get up to twice as much
    dropout_prob: float = 0.1  # per person and sample: probability of Kinect-style dropouts
    seed: int = 0
    val_fraction: float = 0.1  # share of the training part held out (by subject) as validation

    def __post_init__(self) -> None:
        def check_int(key: str, lo: int, hi: int | None = None) -> None:
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo or (hi is not None and v > hi):
                rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
                raise ValueError(f"synthetic spec: {key} must be an integer {rng}, got {v!r}")

        def check_float(key: str, lo: float, hi: float, hi_open: bool = False) -> None:
            v = getattr(self, key)
            ok = isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) and lo <= v <= hi
            if not ok or (hi_open and v >= hi):
                raise ValueError(f"synthetic spec: {key} must be a number in [{lo}, {hi}{')' if hi_open else ']'}, got {v!r}")

        check_int("num_classes", 2, len(SYNTHETIC_CLASSES))
        check_int("num_subjects", 3)  # xsub needs training subjects for train and val, and a test subject
        check_int("num_views", 2, len(_AZIMUTHS))  # xview needs a test view and a training view
        check_int("repetitions", 1)
        check_int("min_frames", 8)
        check_int("max_frames", 8)
        check_int("seed", 0)
        if self.max_frames < self.min_frames:
            raise ValueError(f"synthetic spec: max_frames ({self.max_frames}) must be >= min_frames ({self.min_frames})")
        check_float("two_person", 0.0, 1.0)
        check_float("noise_std", 0.0, 0.2)
        check_float("dropout_prob", 0.0, 1.0)
        check_float("val_fraction", 0.0, 1.0, hi_open=True)
        if self.val_fraction <= 0:
            raise ValueError(f"synthetic spec: val_fraction must be in (0, 1), got {self.val_fraction!r}")

    @property
    def num_samples(self) -> int:
        return self.num_classes * self.num_subjects * self.num_views * self.repetitions

    @property
    def num_persons(self) -> int:
        """Persons per sample array: 2 whenever a second person can appear (absent = zeros)."""
        return 2 if self.two_person > 0 else 1

    @property
    def classes(self) -> list[str]:
        return SYNTHETIC_CLASSES[: self.num_classes]


def view_azimuth(view: int) -> float:
    """Nominal camera azimuth in degrees of 1-based ``view`` (1: frontal, 2: -45, 3: +45, ...)."""
    if not 1 <= view <= len(_AZIMUTHS):
        raise ValueError(f"view must be in 1..{len(_AZIMUTHS)}, got {view}")
    return _AZIMUTHS[view - 1]


def sample_name(label: int, subject: int, view: int, repetition: int) -> str:
    """NTU-style name ``S001C<view>P<subject>R<repetition>A<label+1>``."""
    return f"S001C{view:03d}P{subject:03d}R{repetition:03d}A{label + 1:03d}"


def _check_ids(spec: SyntheticSpec, label: int, subject: int, view: int, repetition: int) -> None:
    for key, v, lo, hi in (
        ("label", label, 0, spec.num_classes - 1),
        ("subject", subject, 1, spec.num_subjects),
        ("view", view, 1, spec.num_views),
        ("repetition", repetition, 1, spec.repetitions),
    ):
        if not lo <= v <= hi:
            raise ValueError(f"synthetic sample: {key} must be in {lo}..{hi}, got {v}")


@dataclass(frozen=True)
class _Camera:
    azimuth: float  # rad, about the vertical through the person's spot
    distance: float  # m, along the optical axis
    height: float  # m, above the floor
    tilt: float  # rad, pitch (negative: looking down)
    roll: float  # rad


def _camera(spec: SyntheticSpec, view: int, rng: np.random.Generator) -> _Camera:
    """The camera of ``view`` for one recording: the view's set-up plus per-recording jitter."""
    vr = np.random.default_rng([spec.seed, _VIEW_TAG, view])
    distance, height, tilt = vr.uniform(2.8, 3.4), vr.uniform(0.7, 1.3), vr.uniform(-0.25, 0.05)
    return _Camera(
        azimuth=float(np.deg2rad(view_azimuth(view)) + rng.normal(0.0, 0.05)),
        distance=float(np.clip(distance + rng.normal(0.0, 0.2), 2.3, 4.2)),
        height=float(height + rng.normal(0.0, 0.05)),
        tilt=float(tilt + rng.normal(0.0, 0.06)),
        roll=float(rng.normal(0.0, 0.03)),
    )


def _to_camera(body: np.ndarray, facing: float, floor_xz: tuple[float, float], cam: _Camera) -> np.ndarray:
    """Turn a posed body (T, V, 3) by ``facing``, stand it at ``floor_xz`` and view it from ``cam``."""
    world = body @ rot_y(np.array([facing]))[0].T + np.array([floor_xz[0], 0.0, floor_xz[1]])
    view = rot_z(np.array([cam.roll]))[0] @ rot_x(np.array([cam.tilt]))[0]
    return (world @ rot_y(np.array([cam.azimuth]))[0].T + np.array([0.0, -cam.height, cam.distance])) @ view.T


def _sensor(x: np.ndarray, present: np.ndarray, spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """Jitter and dropouts on one person's (T, V, 3) camera-space joints; absent frames become zero."""
    T = x.shape[0]
    if spec.noise_std > 0:
        scale = spec.noise_std * _JITTER[None, :, None] * np.array([1.0, 1.0, 1.3])
        x = x + rng.normal(0.0, 1.0, size=x.shape) * scale
    if spec.dropout_prob > 0 and rng.random() < spec.dropout_prob:
        for _ in range(1 + rng.poisson(0.7)):
            length = int(rng.integers(1, 9))
            start = int(rng.integers(0, max(T - length, 0) + 1))
            if rng.random() < _FRAME_DROPOUT_PROB:
                joints: tuple[int, ...] | slice = slice(None)
            elif rng.random() < 0.3:
                joints = (int(rng.integers(0, 25)),)
            else:
                joints = _DROPOUT_GROUPS[int(rng.integers(0, len(_DROPOUT_GROUPS)))]
            x[start : start + length, joints] = 0.0
    x[~present] = 0.0
    return x


def generate_sample(spec: SyntheticSpec, label: int, subject: int, view: int, repetition: int) -> tuple[np.ndarray, SampleMeta]:
    """One recording as a ``(3, T, 25, M)`` float32 array and its metadata.

    ``label`` is 0-based; ``subject``, ``view`` and ``repetition`` are 1-based as in NTU names.
    ``M`` is ``spec.num_persons``; the second person, when drawn, is an idle bystander.
    """
    _check_ids(spec, label, subject, view, repetition)
    rng = np.random.default_rng([spec.seed, _SAMPLE_TAG, label, subject, view, repetition])
    person = make_subject(np.random.default_rng([spec.seed, _SUBJECT_TAG, subject]))
    T = int(rng.integers(spec.min_frames, spec.max_frames + 1))
    cam = _camera(spec, view, rng)
    _, program, repetitive = ACTIONS[label]
    ctx = make_context(T, person, rng, repetitive)
    actor = pose_body(add_habits(program(ctx), ctx), person)
    floor = (rng.normal(0.0, 0.2), rng.normal(0.0, 0.2))
    # as in NTU, odd repetitions face one side of the camera and even ones the other
    facing = (1.0 if repetition % 2 else -1.0) * rng.uniform(0.2, 0.8) + rng.normal(0.0, 0.1)
    people = [_sensor(_to_camera(actor, facing, floor, cam), np.ones(T, bool), spec, rng)]
    if spec.num_persons == 2:
        second = np.zeros((T, 25, 3))
        if rng.random() < spec.two_person:
            other = make_subject(rng)
            body = pose_body(idle_motion(make_context(T, other, rng)), other)
            side = 1.0 if rng.random() < 0.5 else -1.0
            where = (floor[0] + side * rng.uniform(0.8, 1.4), floor[1] + rng.uniform(-0.4, 0.6))
            span = max(1, int(round(rng.uniform(0.5, 1.0) * T)))
            first = int(rng.integers(0, T - span + 1))
            present = np.zeros(T, bool)
            present[first : first + span] = True
            second = _sensor(_to_camera(body, rng.uniform(-0.8, 0.8), where, cam), present, spec, rng)
        people.append(second)
    data = np.stack(people, axis=-1).transpose(2, 0, 1, 3).astype(np.float32)  # (3, T, 25, M)
    meta = SampleMeta(
        name=sample_name(label, subject, view, repetition),
        label=label,
        subject=subject,
        view=view,
        setup=1,
        replication=repetition,
    )
    return data, meta


def _ids(spec: SyntheticSpec) -> Iterator[tuple[int, int, int, int]]:
    """(label, subject, view, repetition) in the order of the sample names."""
    for view in range(1, spec.num_views + 1):
        for subject in range(1, spec.num_subjects + 1):
            for rep in range(1, spec.repetitions + 1):
                for label in range(spec.num_classes):
                    yield label, subject, view, rep


def iter_synthetic(spec: SyntheticSpec | None = None) -> Iterator[tuple[np.ndarray, SampleMeta]]:
    """Every sample of ``spec`` (default: the demo spec), in name order, one at a time."""
    spec = spec or SyntheticSpec()
    for label, subject, view, rep in _ids(spec):
        yield generate_sample(spec, label, subject, view, rep)


def xsub_test_subjects(spec: SyntheticSpec) -> list[int]:
    """Cross-subject test subjects: every third subject (3, 6, 9, ...)."""
    return [s for s in range(1, spec.num_subjects + 1) if s % 3 == 0]


def synthetic_splits(spec: SyntheticSpec, labels: np.ndarray, subjects: np.ndarray, views: np.ndarray) -> dict[str, np.ndarray]:
    """Index arrays ``xsub/{train,val,test}`` and ``xview/{train,val,test}``.

    ``xsub`` tests on :func:`xsub_test_subjects`; ``xview`` tests on view 1 (frontal) and trains on the
    others. Each ``val`` is carved from that protocol's training part, by subject, with
    :func:`skelar.store.splits.carve_validation` seeded by ``spec.seed``.
    """
    labels, subjects, views = np.asarray(labels), np.asarray(subjects), np.asarray(views)
    idx = np.arange(len(labels), dtype=np.int64)
    tests = {
        "xsub": np.isin(subjects, xsub_test_subjects(spec)),
        "xview": views == 1,
    }
    out: dict[str, np.ndarray] = {}
    for protocol, is_test in tests.items():
        train, val = carve_validation(idx[~is_test], labels, subjects, fraction=spec.val_fraction, seed=spec.seed, by="subject")
        out[f"{protocol}/train"], out[f"{protocol}/val"], out[f"{protocol}/test"] = train, val, idx[is_test]
    return out


def _resolve_spec(spec: SyntheticSpec | None, overrides: dict[str, Any]) -> SyntheticSpec:
    spec = spec or SyntheticSpec()
    known = [f.name for f in dataclasses.fields(SyntheticSpec)]
    for key in overrides:
        if key not in known:
            raise ValueError(f"synthetic spec: unknown key {key!r} (known: {', '.join(known)})")
    return dataclasses.replace(spec, **overrides) if overrides else spec


def write_synthetic_dataset(
    out_dir: str | os.PathLike,
    spec: SyntheticSpec | None = None,
    overwrite: bool = False,
    progress: bool = True,
    **overrides: Any,
) -> PreparedDataset:
    """Generate the corpus of ``spec`` (with ``overrides`` applied) into a prepared dataset at ``out_dir``.

    Samples are streamed to disk, so memory stays bounded for NTU-sized corpora. The manifest
    records the generator and the full spec; the splits are those of :func:`synthetic_splits`.
    """
    spec = _resolve_spec(spec, overrides)
    writer = PreparedWriter(
        out_dir,
        layout="ntu25",
        classes=spec.classes,
        num_channels=3,
        num_persons=spec.num_persons,
        name="synthetic",
        preprocessing={"generator": "skelar.synthetic", "spec": asdict(spec)},
        overwrite=overwrite,
    )
    labels, subjects, views = [], [], []
    with writer:
        for data, meta in tqdm(iter_synthetic(spec), total=spec.num_samples, desc="synthetic", unit="sample",
                               disable=None if progress else True):  # None: shown on a terminal only
            writer.add(data, meta)
            labels.append(meta.label)
            subjects.append(meta.subject)
            views.append(meta.view)
        for key, indices in synthetic_splits(spec, np.array(labels), np.array(subjects), np.array(views)).items():
            protocol, part = key.split("/")
            writer.set_split(protocol, part, indices)
        return writer.close()
