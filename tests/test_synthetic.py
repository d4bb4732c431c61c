"""The built-in synthetic dataset: determinism, shapes, kinematics, splits, writer, and difficulty."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from skelar.store.prepared import PreparedDataset
from skelar.data.synthetic import (
    SYNTHETIC_CLASSES,
    SyntheticSpec,
    generate_sample,
    iter_synthetic,
    synthetic_splits,
    write_synthetic_dataset,
    xsub_test_subjects,
)
from skelar.layouts import get_layout

LAYOUT = get_layout("ntu25")
CLEAN = dict(noise_std=0.0, dropout_prob=0.0)


def _ids(spec: SyntheticSpec):
    return [
        (label, subject, view, rep)
        for view in range(1, spec.num_views + 1)
        for subject in range(1, spec.num_subjects + 1)
        for rep in range(1, spec.repetitions + 1)
        for label in range(spec.num_classes)
    ]


def _bone_lengths(x: np.ndarray) -> np.ndarray:
    """``(T, V)`` length of every joint's bone to its layout parent, for person 0 of ``(3, T, V, M)``."""
    p = x[..., 0].transpose(1, 2, 0)  # (T, V, 3)
    return np.linalg.norm(p - p[:, list(LAYOUT.parents)], axis=-1)


def _features(x: np.ndarray, frames: int = 20) -> np.ndarray:
    """Person 0 centred on the first frame's SpineMid and resampled to ``frames`` frames: (3, frames, 25)."""
    x = x[..., 0]
    x = x[:, np.any(x != 0, axis=(0, 2))]
    x = x - x[:, 0, 1][:, None, None]
    return x[:, np.linspace(0, x.shape[1] - 1, frames).round().astype(int)]


# -- spec ------------------------------------------------------------------------------------------------
def test_default_spec_is_demo_sized():
    spec = SyntheticSpec()
    assert len(SYNTHETIC_CLASSES) == 12 and len(set(SYNTHETIC_CLASSES)) == 12
    assert spec.num_classes == 12 and spec.classes == SYNTHETIC_CLASSES
    assert 1500 <= spec.num_samples <= 2500
    assert spec.num_persons == 1 and SyntheticSpec(two_person=0.3).num_persons == 2


@pytest.mark.parametrize(
    "key, value",
    [
        ("num_classes", 1),
        ("num_classes", 13),
        ("num_subjects", 2),
        ("num_views", 1),
        ("repetitions", 0),
        ("repetitions", 1.5),
        ("min_frames", 3),
        ("two_person", 1.5),
        ("noise_std", -0.01),
        ("dropout_prob", 2.0),
        ("val_fraction", 0.0),
        ("val_fraction", 1.0),
        ("seed", -1),
    ],
)
def test_spec_rejects_bad_values(key, value):
    with pytest.raises(ValueError, match=key):
        SyntheticSpec(**{key: value})


def test_spec_rejects_inverted_frame_range():
    with pytest.raises(ValueError, match="max_frames"):
        SyntheticSpec(min_frames=60, max_frames=50)


def test_unknown_override_is_named(tmp_path):
    with pytest.raises(ValueError, match="unknown key 'subjects'"):
        write_synthetic_dataset(tmp_path / "x", subjects=3, progress=False)
    assert not (tmp_path / "x").exists()


# -- samples --------------------------------------------------------------------------------------------
def test_sample_shape_dtype_and_metadata():
    spec = SyntheticSpec()
    x, meta = generate_sample(spec, 3, 2, 2, 1)
    assert x.dtype == np.float32 and x.ndim == 4
    assert x.shape[0] == 3 and x.shape[2] == 25 and x.shape[3] == 1
    assert spec.min_frames <= x.shape[1] <= spec.max_frames
    assert np.isfinite(x).all()
    assert (meta.name, meta.label, meta.subject, meta.view, meta.setup, meta.replication) == ("S001C002P002R001A004", 3, 2, 2, 1, 1)


@pytest.mark.parametrize("ids, key", [((12, 1, 1, 1), "label"), ((0, 0, 1, 1), "subject"), ((0, 1, 4, 1), "view"), ((0, 1, 1, 3), "repetition")])
def test_sample_ids_are_checked(ids, key):
    with pytest.raises(ValueError, match=key):
        generate_sample(SyntheticSpec(), *ids)


def test_bit_identical_in_any_order_and_seed_dependent():
    spec = SyntheticSpec(num_subjects=3, num_views=2, repetitions=1)
    ids = _ids(spec)[::5]
    forward = {i: generate_sample(spec, *i)[0].tobytes() for i in ids}
    backward = {i: generate_sample(spec, *i)[0].tobytes() for i in reversed(ids)}
    assert forward == backward
    other = SyntheticSpec(num_subjects=3, num_views=2, repetitions=1, seed=1)
    assert all(generate_sample(other, *i)[0].tobytes() != forward[i] for i in ids)


def test_iter_synthetic_covers_the_spec_in_name_order():
    spec = SyntheticSpec(num_classes=3, num_subjects=3, num_views=2, repetitions=2, **CLEAN)
    names = [meta.name for _, meta in iter_synthetic(spec)]
    assert len(names) == spec.num_samples == len(set(names))
    assert names == sorted(names)


def test_bones_are_rigid_and_plausible():
    spec = SyntheticSpec(**CLEAN)
    named = {LAYOUT.names[v]: v for v in range(25)}
    plausible = {"ElbowRight": (0.18, 0.36), "WristRight": (0.17, 0.33), "KneeLeft": (0.28, 0.5), "AnkleLeft": (0.28, 0.5), "SpineMid": (0.2, 0.36)}
    for label in range(spec.num_classes):
        for subject in (1, 5):
            x, _ = generate_sample(spec, label, subject, 1 + label % 3, 1)
            lengths = _bone_lengths(x)
            assert np.all(lengths.std(axis=0) <= 1e-5 + 1e-4 * lengths.mean(axis=0)), SYNTHETIC_CLASSES[label]
            for joint, (lo, hi) in plausible.items():
                assert lo < lengths[0, named[joint]] < hi, (SYNTHETIC_CLASSES[label], joint)


def test_people_stand_in_front_of_the_camera():
    spec = SyntheticSpec(**CLEAN)
    for label in range(spec.num_classes):
        x, _ = generate_sample(spec, label, 2, 1 + label % 3, 2)
        p = x[..., 0]
        assert 2.0 < p[2, :, 0].mean() < 4.5  # SpineBase depth
        assert np.abs(p[0, :, 0]).max() < 1.2
        assert np.all(p[1, :, 3] > p[1, :, [15, 19]].max(axis=0))  # head above the feet in every frame


def test_noise_and_dropouts():
    clean_spec, noisy_spec = SyntheticSpec(**CLEAN), SyntheticSpec(noise_std=0.01, dropout_prob=0.0)
    clean, _ = generate_sample(clean_spec, 4, 1, 1, 1)
    noisy, _ = generate_sample(noisy_spec, 4, 1, 1, 1)
    assert clean.shape == noisy.shape
    jitter = np.abs(noisy - clean).mean()
    assert 0.005 < jitter < 0.03
    assert not np.any(np.all(clean == 0, axis=0))  # no lost joints without dropouts

    dropping = SyntheticSpec(dropout_prob=1.0)
    lost = [np.all(generate_sample(dropping, label, 1, 1, 1)[0] == 0, axis=0).sum() for label in range(12)]
    assert all(n > 0 for n in lost)


def test_second_person_option():
    always = SyntheticSpec(num_subjects=3, two_person=1.0)
    for label in (0, 4, 9):
        x, _ = generate_sample(always, label, 1, 1, 1)
        assert x.shape[3] == 2
        present = np.any(x[..., 1] != 0, axis=(0, 2))
        assert present.mean() >= 0.45  # present over at least half the recording
        frames = x[..., 1][:, present]
        assert np.all(np.abs(frames).sum(axis=(0, 2)) > 0)
        gap = np.linalg.norm(x[:, present, 0, 0] - x[:, present, 0, 1], axis=0)
        assert gap.min() > 0.4  # a bystander, not an overlay of the actor

    sometimes = SyntheticSpec(num_subjects=3, two_person=0.5)
    seconds = [np.any(generate_sample(sometimes, label, s, 1, 1)[0][..., 1] != 0) for label in range(12) for s in (1, 2)]
    assert 0 < sum(seconds) < len(seconds)
    assert generate_sample(SyntheticSpec(two_person=0.0), 0, 1, 1, 1)[0].shape[3] == 1


# -- splits and writer ----------------------------------------------------------------------------------
def test_splits_are_disjoint_covering_and_subject_safe():
    spec = SyntheticSpec()
    labels, subjects, views, _ = (np.array(a) for a in zip(*_ids(spec)))
    splits = synthetic_splits(spec, labels, subjects, views)
    assert set(splits) == {f"{p}/{part}" for p in ("xsub", "xview") for part in ("train", "val", "test")}
    everything = np.arange(spec.num_samples)
    for protocol in ("xsub", "xview"):
        train, val, test = (splits[f"{protocol}/{part}"] for part in ("train", "val", "test"))
        assert len(train) and len(val) and len(test)
        parts = np.concatenate([train, val, test])
        assert len(parts) == len(np.unique(parts)) and np.array_equal(np.sort(parts), everything)
        # validation holds out whole training subjects
        assert not set(subjects[val]) & set(subjects[train])
        assert 0.05 < len(val) / (len(train) + len(val)) < 0.2
    test_subjects = set(xsub_test_subjects(spec))
    assert set(subjects[splits["xsub/test"]]) == test_subjects
    assert not test_subjects & set(subjects[np.concatenate([splits["xsub/train"], splits["xsub/val"]])])
    assert set(views[splits["xview/test"]]) == {1}
    assert 1 not in set(views[np.concatenate([splits["xview/train"], splits["xview/val"]])])
    again = synthetic_splits(spec, labels, subjects, views)
    assert all(np.array_equal(again[k], splits[k]) for k in splits)


def test_write_synthetic_dataset_round_trip(tmp_path):
    spec = SyntheticSpec(num_classes=3, num_subjects=3, num_views=2, repetitions=1, two_person=0.5)
    ds = write_synthetic_dataset(tmp_path / "syn", spec, progress=False)
    assert isinstance(ds, PreparedDataset) and len(ds) == spec.num_samples == 18
    assert ds.name == "synthetic" and ds.layout.name == "ntu25" and ds.classes == SYNTHETIC_CLASSES[:3]
    assert ds.num_persons == 2 and ds.num_channels == 3
    assert ds.preprocessing == {"generator": "skelar.synthetic", "spec": asdict(spec)}
    assert set(ds.protocols()) == {"xsub", "xview"} and all(ds.has_split(p, q) for p in ("xsub", "xview") for q in ("train", "val", "test"))
    for i, (data, meta) in enumerate(iter_synthetic(spec)):
        assert np.array_equal(ds[i], data) and ds.sample_meta(i) == meta

    with pytest.raises(FileExistsError):
        write_synthetic_dataset(tmp_path / "syn", spec, progress=False)
    redone = write_synthetic_dataset(tmp_path / "syn", spec, overwrite=True, progress=False, seed=7)
    assert redone.preprocessing["spec"]["seed"] == 7 and not np.array_equal(redone[0], generate_sample(spec, 0, 1, 1, 1)[0])


# -- difficulty -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_corpus():
    """12 classes x 12 subjects x 2 views, as (N, 3, 20, 25) first-frame-centred features."""
    spec = SyntheticSpec(num_subjects=12, num_views=2, repetitions=1)
    feats, labels, subjects, views = [], [], [], []
    for x, meta in iter_synthetic(spec):
        feats.append(_features(x))
        labels.append(meta.label)
        subjects.append(meta.subject)
        views.append(meta.view)
    return spec, np.array(feats, np.float64), np.array(labels), np.array(subjects), np.array(views)


def test_class_mean_trajectories_differ(small_corpus):
    _, x, y, _, _ = small_corpus
    k = y.max() + 1

    def distance_to_grand_mean(labels):
        means = np.stack([x[labels == c].mean(axis=0) for c in range(k)])
        return np.sqrt(((means - x.mean(axis=0)) ** 2).mean(axis=(1, 2, 3)))

    real = distance_to_grand_mean(y)
    rng = np.random.default_rng(0)
    shuffled = np.stack([distance_to_grand_mean(rng.permutation(y)) for _ in range(10)])
    assert real.min() > shuffled.mean()  # every class has its own mean motion
    assert real.mean() > 1.8 * shuffled.mean()


def test_linear_baseline_is_well_above_chance_and_well_below_perfect(small_corpus):
    """Ridge regression on flattened centred frames: learnable, but not trivially separable."""
    spec, x, y, subjects, views = small_corpus
    splits = synthetic_splits(spec, y, subjects, views)
    train = np.concatenate([splits["xsub/train"], splits["xsub/val"]])
    test = splits["xsub/test"]
    flat = x.reshape(len(x), -1)
    mu, sd = flat[train].mean(axis=0), flat[train].std(axis=0) + 1e-6
    a = np.c_[(flat - mu) / sd, np.ones(len(flat))]
    w = np.linalg.solve(a[train].T @ a[train] + 100.0 * np.eye(a.shape[1]), a[train].T @ np.eye(spec.num_classes)[y[train]])
    accuracy = float(((a[test] @ w).argmax(axis=1) == y[test]).mean())
    assert 0.3 < accuracy < 0.85, accuracy  # chance is 1/12
