"""CTR-GCN's NTU and NW-UCLA feeder views as skelar transforms, checked against the parity fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from skelar.layouts import layout_from_dict
from skelar.transforms import (
    CenterFirstFrame,
    MinMaxNormalize,
    RandomRotation,
    UclaSample,
    UclaViewAugment,
    ValidCropResize,
    build_transforms,
    sgn_rotation_matrix,
    to_bone,
    to_motion,
    to_stream,
)
from skelar.transforms.temporal import resize_frames, valid_frame_count


_CACHE: dict = {}


def _fixture(shared, name):
    path = shared("parity", "pipelines", name)
    if name not in _CACHE:
        _CACHE[name] = dict(np.load(path, allow_pickle=False))
    return _CACHE[name]


@pytest.fixture
def ctrgcn_ntu(shared):
    return _fixture(shared, "ctrgcn_ntu.npz")


@pytest.fixture
def sgn_ntu(shared):
    return _fixture(shared, "sgn_ntu.npz")


@pytest.fixture
def ctrgcn_ucla(shared):
    return _fixture(shared, "ctrgcn_ucla.npz")


def _feeder_input(sgn, name):
    """The CTR-GCN feeder's (3, 300, 25, 2) view of SGN's padded (300, 150) array."""
    return sgn[f"{name}/aligned"].reshape(300, 2, 25, 3).transpose(3, 0, 2, 1)


def test_ntu_test_view_all_streams(ctrgcn_ntu, sgn_ntu):
    crop = ValidCropResize(window=64, p_interval=[0.95])
    for name in ctrgcn_ntu["samples"]:
        x = _feeder_input(sgn_ntu, name)
        np.testing.assert_array_equal(x, ctrgcn_ntu[f"{name}/ctvm"])
        assert valid_frame_count(x) == int(ctrgcn_ntu[f"{name}/valid_frame_num"])
        joint = crop(x, None)
        assert joint.shape == (3, 64, 25, 2) and joint.dtype == np.float32
        for key, stream in (("test64", "joint"), ("test64_bone", "bone"), ("test64_vel", "motion"), ("test64_bone_vel", "bone_motion")):
            np.testing.assert_allclose(to_stream(joint, stream, "ntu25"), ctrgcn_ntu[f"{name}/{key}"], rtol=0, atol=1e-6, err_msg=f"{name} {key}")


def test_ntu_training_crops_for_recorded_draws(ctrgcn_ntu, sgn_ntu):
    crop = ValidCropResize(window=64, p_interval=[0.5, 1.0])
    for name in ctrgcn_ntu["samples"]:
        x = _feeder_input(sgn_ntu, name)
        ps, biases, outs = (ctrgcn_ntu[f"{name}/train64/{k}"] for k in ("p", "bias", "out"))
        for p, bias, ref in zip(ps, biases, outs):
            np.testing.assert_allclose(crop.apply(x, float(p), int(bias)), ref, rtol=0, atol=1e-6, err_msg=name)


def test_ntu_random_rot_and_matrices(ctrgcn_ntu):
    out = RandomRotation(theta=0.3).apply(ctrgcn_ntu["random_rot/x_in"], ctrgcn_ntu["random_rot/angles"])
    np.testing.assert_allclose(out, ctrgcn_ntu["random_rot/x_out"], rtol=0, atol=1e-6)
    for angles, ref in zip(ctrgcn_ntu["rot/angles"], ctrgcn_ntu["rot/R"]):
        np.testing.assert_allclose(sgn_rotation_matrix(angles), ref, rtol=0, atol=1e-6)


def test_ntu120_membership(ctrgcn_ntu):
    from skelar.preprocess.ntu_protocols import name_fields, protocol_is_train

    fields = name_fields(list(ctrgcn_ntu["split120/names"]))
    for ref, proto in (("CSub", "xsub"), ("CSet", "xset")):
        is_train = protocol_is_train(fields, "ntu120", proto)
        np.testing.assert_array_equal(is_train, ctrgcn_ntu[f"split120/{ref}/is_train"])
        np.testing.assert_array_equal(~is_train, ctrgcn_ntu[f"split120/{ref}/is_test"])


def test_train_crop_draws_are_in_range():
    crop = ValidCropResize(window=64, p_interval=[0.5, 1.0])
    rng = np.random.default_rng(0)
    for valid in (10, 64, 65, 200, 300):
        for _ in range(20):
            p, bias = crop.draw(valid, rng)
            a, b = crop.crop_bounds(valid, p, bias)
            assert 0.5 <= p <= 1.0 and 0 <= a < b <= valid
            assert b - a == min(max(int(np.floor(valid * p)), 64), valid)
    x = np.zeros((3, 300, 25, 2), np.float32)
    x[:, :40] = rng.normal(size=(3, 40, 25, 2))
    assert crop(x, rng).shape == (3, 64, 25, 2)
    assert not crop(np.zeros((3, 300, 25, 2), np.float32), rng).any()  # no valid frame: zeros, no crash
    with pytest.raises(ValueError, match="random generator"):
        crop(x, None)
    with pytest.raises(ValueError, match="p_interval"):
        ValidCropResize(p_interval=[0.9, 0.5])


def test_resize_is_linear_interpolation_with_half_pixel_centres():
    x = np.arange(4, dtype=np.float32).reshape(1, 4, 1, 1)
    out = resize_frames(x, 8)[0, :, 0, 0]
    # src = (i + 0.5) * 4/8 - 0.5, clamped at 0 -> 0, 0.25, 0.75, 1.25, ... , 3 (clamped)
    np.testing.assert_allclose(out, [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0])


def test_bone_and_motion_on_a_custom_layout():
    lay = layout_from_dict({"name": "chain3", "joints": [{"name": "R", "parent": "R"}, {"name": "A", "parent": "R"}, {"name": "B", "parent": "A"}]})
    x = np.arange(2 * 3 * 3 * 1, dtype=np.float64).reshape(2, 3, 3, 1) ** 2
    b = to_bone(x, lay)
    assert not b[:, :, 0].any()
    np.testing.assert_array_equal(b[:, :, 2], x[:, :, 2] - x[:, :, 1])
    m = to_motion(x)
    np.testing.assert_array_equal(m[:, :-1], x[:, 1:] - x[:, :-1])
    assert not m[:, -1].any()
    with pytest.raises(ValueError, match="layout 'ntu25' has 25"):
        to_bone(x, "ntu25")
    with pytest.raises(ValueError, match="stream"):
        build_transforms([{"name": "stream", "stream": "velocity"}])


def _ucla_test_view(x):
    return build_transforms([
        {"name": "center_first_frame", "layout": "ucla20"},
        {"name": "minmax_normalize"},
        {"name": "ucla_sample", "num_frames": 52, "mode": "uniform"},
    ])(x, None)


def test_ucla_test_view_all_streams_exact(ctrgcn_ucla):
    names = ctrgcn_ucla["val/samples"]
    lengths = [ctrgcn_ucla[f"val/{n}/skeleton"].shape[0] for n in names]
    assert min(lengths) == 1  # includes the one-frame sequence
    for name in names:
        x = ctrgcn_ucla[f"val/{name}/skeleton"].transpose(2, 0, 1)[..., None]  # (3, T, 20, 1) float64
        joint = _ucla_test_view(x)
        for stream in ("joint", "bone", "motion", "bone_motion"):
            out = to_stream(joint, stream, "ucla20")
            ref = ctrgcn_ucla[f"val/{name}/{stream}"]
            assert out.dtype == ref.dtype == np.float64
            np.testing.assert_array_equal(out, ref, err_msg=f"{name} {stream}")


def test_ucla_training_view_for_recorded_draws_exact(ctrgcn_ucla):
    center, view, norm, sample = CenterFirstFrame(layout="ucla20"), UclaViewAugment(), MinMaxNormalize(), UclaSample(52, "random")
    for name in ctrgcn_ucla["train/samples"]:
        x = ctrgcn_ucla[f"train/{name}/skeleton"].transpose(2, 0, 1)[..., None]
        agx, agy, s = (ctrgcn_ucla[f"train/{name}/{k}"] for k in ("agx_deg", "agy_deg", "scale"))
        out = sample.apply(norm(view.apply(center(x), int(agx), int(agy), float(s))), ctrgcn_ucla[f"train/{name}/sampled_idx"])
        np.testing.assert_array_equal(out, ctrgcn_ucla[f"train/{name}/joint"], err_msg=name)
    x_in = ctrgcn_ucla["view_transform/x_in"].transpose(2, 0, 1)[..., None]
    for params, ref in zip(ctrgcn_ucla["view_transform/params"], ctrgcn_ucla["view_transform/x_out"]):
        np.testing.assert_array_equal(view.apply(x_in, *params)[..., 0].transpose(1, 2, 0), ref)


def test_ucla_random_draws():
    rng = np.random.default_rng(1)
    view = UclaViewAugment(max_angle=60, scale=(0.5, 1.5))
    for _ in range(50):
        agx, agy, s = view.draw(rng)
        assert -60 <= agx <= 60 and -60 <= agy <= 60 and 0.5 <= s <= 1.5
    sample = UclaSample(52, "random")
    for length in (1, 5, 52, 200):
        idx = sample.draw(length, rng)
        assert idx.shape == (52,) and (np.diff(idx) >= 0).all() and idx.min() >= 0 and idx.max() < length
    one = np.ones((3, 1, 20, 1))
    assert UclaSample(52, "uniform")(one, None).shape == (3, 52, 20, 1)
    flat = MinMaxNormalize()(np.ones((3, 4, 20, 1)), None)  # zero range: 0, not NaN
    assert np.isfinite(flat).all()
