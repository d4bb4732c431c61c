"""No transform has an NTU default: each registered transform, built for a layout no shipped file defines,
either uses that layout or refuses; naming another layout is an error; joints are named or given by role."""

import inspect

import numpy as np
import pytest

import skelar.layouts as layouts
from skelar.layouts import JointLayout, layout_from_dict
from skelar.transforms import build_transform, build_transforms, list_transforms, needs_layout
from skelar.transforms.base import TRANSFORMS

# seven joints, root Chest (index 3), centre Belly (index 5): no bundled layout has either at these indices
SEVEN = layout_from_dict({
    "name": "seven_test", "names": ["LHand", "RHand", "Head", "Chest", "LFoot", "Belly", "RFoot"],
    "parents": ["Chest", "Chest", "Chest", -1, "Belly", "Chest", "Belly"], "center": "Belly",
    "left_right": [["LHand", "RHand"], ["LFoot", "RFoot"]],
})
NO_PAIRS = layout_from_dict({"name": "seven_nopairs", "names": list(SEVEN.names), "parents": list(SEVEN.parents)})
EXAMPLE_KWARGS = {"stream": {"stream": "bone_motion"}, "valid_crop_resize": {"window": 16, "min_crop": 4},
                  "ucla_sample": {"num_frames": 16}, "segment_sample": {"num_segments": 8}, "repeat_pad": {"window": 64},
                  "asgcn_downsample": {"window": 64, "num_frames": 8}, "random_mirror": {"p": 1.0}}


@pytest.fixture
def empty_registry(monkeypatch):
    """No registered layouts at all: a transform that looked up an NTU default would fail."""
    monkeypatch.setattr(layouts, "_REGISTRY", {})


def _sample(v: int = 7) -> np.ndarray:
    return np.random.default_rng(3).normal(0, 1, (3, 40, v, 2)).astype(np.float32)


def _holds(t, lay: JointLayout) -> bool:
    return any(v is lay for v in vars(t).values())


@pytest.mark.parametrize("name", list_transforms())
def test_every_transform_uses_the_dataset_layout_or_refuses(name, empty_registry):
    params = inspect.signature(TRANSFORMS.get(name).__init__).parameters
    for p in params.values():  # no parameter defaults to a layout or an NTU joint
        assert not (isinstance(p.default, str) and p.default in ("ntu25", "ucla20", "coco17", "openpose18")), (name, p)
    spec = {"name": name, **EXAMPLE_KWARGS.get(name, {})}
    t = build_transform(spec, layout=SEVEN)
    out = t(_sample(), np.random.default_rng(0))
    assert np.isfinite(out).all(), name
    if out.shape[2] != 7:  # the joints became something else (e.g. descriptor images): only a layout-aware transform may
        assert needs_layout(name), f"{name} changes the joint axis without the layout"
    if needs_layout(name):
        assert params["layout"].default is inspect.Parameter.empty, f"{name}: 'layout' must have no default"
        assert _holds(t, SEVEN), f"{name} does not use the dataset's layout"
        with pytest.raises(ValueError, match="needs the dataset's joint layout"):
            build_transform(spec)
        with pytest.raises(ValueError, match=r"layout: 'ntu25' is not the dataset's layout 'seven_test'"):
            build_transform({**spec, "layout": "ntu25"}, where="data.test_transforms[0]", layout=SEVEN)
        assert _holds(build_transform({**spec, "layout": "seven_test"}, layout=SEVEN), SEVEN)  # naming its own is fine
    else:
        with pytest.raises(ValueError, match="has no parameter 'layout'"):
            build_transform({**spec, "layout": "seven_test"}, layout=SEVEN)


def test_centring_uses_the_layout_centre_or_a_named_joint(empty_registry):
    x = _sample()
    for name in ("center_first_frame", "center_sequence"):
        out = build_transform({"name": name}, layout=SEVEN)(x, None)
        assert np.allclose(out[:3, 0, 5, 0], 0) and not np.allclose(out[:3, 0, 1, 0], 0), name  # Belly, not joint 1
        assert np.allclose(build_transform({"name": name, "joint": "Head"}, layout=SEVEN)(x, None)[:3, 0, 2, 0], 0)
        assert np.allclose(build_transform({"name": name, "joint": "root"}, layout=SEVEN)(x, None)[:3, 0, 3, 0], 0)
        with pytest.raises(ValueError, match="has no joint 'SpineMid'"):
            build_transform({"name": name, "joint": "SpineMid"}, layout=SEVEN)


def test_bone_and_mirror_follow_the_layout(empty_registry):
    x = _sample()
    bone = build_transforms([{"name": "stream", "stream": "bone"}], layout=SEVEN)(x, None)
    parents = np.asarray(SEVEN.parents)
    expect = x - x[:, :, parents]
    expect[:, :, 3] = 0
    assert np.allclose(bone, expect)
    m = build_transform({"name": "random_mirror", "p": 1.0}, layout=SEVEN)(x, np.random.default_rng(0))
    assert np.allclose(m[0, :, 0], -x[0, :, 1]) and np.allclose(m[1:, :, 4], x[1:, :, 6]) and np.allclose(m[1:, :, 3], x[1:, :, 3])
    with pytest.raises(ValueError, match="declares none"):
        build_transform({"name": "random_mirror"}, layout=NO_PAIRS)


def test_config_validation_needs_no_registered_layout(empty_registry):
    from skelar.transforms import check_transforms

    # before the dataset is open its layout is not registered: naming it must not fail validation
    check_transforms([{"name": "stream", "stream": "bone", "layout": "kinect1_sdk"}, {"name": "center_first_frame"}], "data.train_transforms")
    with pytest.raises(ValueError, match=r"data.train_transforms\[0\].jiont: transform 'center_first_frame' has no parameter 'jiont'"):
        check_transforms([{"name": "center_first_frame", "jiont": "Spine"}], "data.train_transforms")
    with pytest.raises(ValueError, match=r"data.train_transforms\[0\]: theta must be >= 0"):
        check_transforms([{"name": "random_rotation", "theta": -1}], "data.train_transforms")
