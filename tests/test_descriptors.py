"""Descriptor images (imdar): faithful parity with the reference fixture, corrected mode, layouts, bad input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from skelar.layouts import get_layout, load_layout_file
from skelar.transforms import build_transforms
from skelar.transforms.descriptor_spec import derive_spec, descriptor_spec, load_descriptor_spec
from skelar.transforms.descriptors import DESCRIPTORS, FUSION_ORDER, Descriptors, descriptor_images, descriptor_matrices, save_pngs

FIXTURE = Path(__file__).resolve().parents[1] / ".." / "shared" / "parity" / "pipelines" / "imdar_descriptors.npz"
FIXTURE = FIXTURE if FIXTURE.exists() else Path("/work/shared/parity/pipelines/imdar_descriptors.npz")
needs_fixture = pytest.mark.skipif(not FIXTURE.exists(), reason="parity fixture not available")
LAYOUTS = {"ntu": "ntu25", "ucla": "ucla20"}


def _fixture():
    return np.load(FIXTURE, allow_pickle=False)


def _samples() -> list[tuple[str, str]]:
    if not FIXTURE.exists():
        return []
    z = _fixture()
    return [(ds, str(s)) for ds in LAYOUTS for s in z[f"{ds}/samples"]]


def _canonical(skel: np.ndarray, num_joints: int) -> np.ndarray:
    """Fixture ``(T, B*V, 3)`` (bodies stacked along joints) -> ``(3, T, V, B)``."""
    t, vb, _ = skel.shape
    return skel.reshape(t, vb // num_joints, num_joints, 3).transpose(3, 0, 2, 1)


def _run(z, ds: str, sample: str, mode: str = "faithful", spec=None):
    spec = spec or descriptor_spec(LAYOUTS[ds])
    x = _canonical(z[f"{ds}/{sample}/skel"], spec.num_joints)
    m = descriptor_matrices(x, spec, mode, center=1)
    return m, descriptor_images(m, 112)


@needs_fixture
@pytest.mark.parametrize("ds,sample", _samples())
def test_faithful_reproduces_every_matrix_and_image(ds, sample):
    z = _fixture()
    m, im = _run(z, ds, sample)
    for k in ("GD", "JDD", "ADD", "LAD"):
        ref = z[f"{ds}/{sample}/pre/{k}"]
        assert m[k].shape == ref.shape, k
        np.testing.assert_array_equal(m[k], ref, err_msg=f"pre/{k}")
    for k in DESCRIPTORS:
        np.testing.assert_array_equal(im[k], z[f"{ds}/{sample}/{k}"], err_msg=k)


@needs_fixture
@pytest.mark.parametrize(
    "ds,change,descriptor",
    [
        ("ntu", {"jdd_z_from": {}}, "JDD"),
        ("ntu", {"jdd_second_body_rows": {}}, "JDD"),
        ("ntu", {"lad_two_body_triplets": {}}, "LAD"),
        ("ucla", {"jdd_unnormalised": ()}, "JDD"),
        ("ucla", {"faithful_bones": "bones"}, "JDD"),
    ],
)
def test_each_reproduced_slip_is_needed(ds, change, descriptor):
    """Dropping one slip from the spec breaks parity for at least one fixture sample."""
    z = _fixture()
    base = descriptor_spec(LAYOUTS[ds])
    change = {k: (getattr(base, v) if isinstance(v, str) else v) for k, v in change.items()}
    spec = dataclasses.replace(base, **change)
    differs = [not np.array_equal(_run(z, ds, s, spec=spec)[0][descriptor], z[f"{ds}/{s}/pre/{descriptor}"]) for s in z[f"{ds}/samples"]]
    assert any(differs)


@needs_fixture
def test_corrected_mode_differs_where_the_reference_slips():
    z = _fixture()
    s = "S001C002P003R001A050"  # two bodies
    m, _ = _run(z, "ntu", s, mode="corrected")
    assert m["GD"][:, 0].any(), "corrected GD computes frame 0"
    assert not np.array_equal(m["JDD"], z[f"ntu/{s}/pre/JDD"])
    assert m["JDD"][49].any(), "corrected JDD fills the second body's row 17"
    np.testing.assert_array_equal(m["ADD"], z[f"ntu/{s}/pre/ADD"])  # ADD had no slip


def _constant(t: int = 10, v: int = 20) -> np.ndarray:
    rng = np.random.default_rng(0)
    pose = rng.normal(size=(3, 1, v, 1))
    return np.repeat(pose, t, axis=1).astype(np.float32)


@pytest.mark.parametrize("mode", ["faithful", "corrected"])
def test_constant_sequence_gives_a_defined_image(mode):
    out = Descriptors("ucla20", mode=mode)(_constant())
    assert out.shape == (3, 112, 112, 5)
    assert np.isfinite(out).all()
    add = out[..., FUSION_ORDER.index("ADD")]
    assert (add == 0).all()  # no motion: zero image, not 0/0


@pytest.mark.parametrize("mode", ["faithful", "corrected"])
def test_one_frame_and_zero_frames_and_zero_bones(mode):
    t = Descriptors("ucla20", mode=mode)
    one = t(_constant(t=1))
    assert np.isfinite(one).all() and (one[..., FUSION_ORDER.index("ADD")] == 0).all()
    zeros = np.zeros((3, 8, 20, 1), dtype=np.float32)
    assert (t(zeros) == 0).all()  # all-zero input: every matrix constant -> zero images
    x = np.random.default_rng(1).normal(size=(3, 8, 20, 1)).astype(np.float32)
    x[:, :, 13] = x[:, :, 12]  # a zero-length bone (and angles with a zero side)
    x[:, 3] = 0  # an all-zero frame
    assert np.isfinite(t(x)).all()


def test_nan_input_is_an_error():
    x = np.zeros((3, 5, 20, 1), dtype=np.float32)
    x[0, 2, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Descriptors("ucla20")(x)


def test_network_input_views():
    x = np.random.default_rng(2).normal(size=(3, 30, 25, 1)).astype(np.float32)
    faithful = Descriptors("ntu25", mode="faithful")
    imgs = faithful.images(x)
    out = faithful(x)
    gd = FUSION_ORDER.index("GD")
    np.testing.assert_array_equal(out[0, :, :, gd], imgs["GD"][:, :, 2])  # BGR: channel 0 is z
    jdd = FUSION_ORDER.index("JDD")
    np.testing.assert_array_equal(out[:, :, :, jdd], np.repeat(imgs["JDD"][None], 3, 0))
    assert out.max() > 1.0
    corrected = Descriptors("ntu25", mode="corrected", descriptors="GD")(x)
    assert corrected.shape == (3, 112, 112, 1) and 0.0 <= corrected.min() and corrected.max() <= 1.0


def test_layout_is_required_and_filled_from_the_data():
    from skelar.transforms import check_transforms

    with pytest.raises(ValueError, match="layout"):
        build_transforms([{"name": "descriptors"}])
    check_transforms([{"name": "descriptors", "mode": "faithful"}])  # config validation, before the data is open
    t = build_transforms([{"name": "descriptors"}], layout=get_layout("coco17")).transforms[0]
    assert t.layout.name == "coco17" and t.spec.source == "derived"
    with pytest.raises(ValueError, match="not the dataset's layout"):
        build_transforms([{"name": "descriptors", "layout": "ntu25"}], layout=get_layout("coco17"))


@pytest.mark.parametrize("layout", ["coco17", "openpose18"])
def test_layouts_the_reference_never_saw(layout):
    lay = get_layout(layout)
    spec = derive_spec(lay)
    assert spec.source == "derived" and descriptor_spec(layout).source == "derived"
    assert spec.jdd_pairs and spec.lad_triplets and len(spec.bones) == lay.num_joints - 1
    x = np.random.default_rng(3).normal(size=(2, 12, lay.num_joints, 1)).astype(np.float32)
    x = np.concatenate([x, np.zeros_like(x[:1])])  # (x, y, 0): 2-D keypoints
    out = Descriptors(layout)(x)
    assert out.shape == (3, 112, 112, 5) and np.isfinite(out).all() and out.max() > 0


def test_custom_yaml_layout_and_spec(tmp_path):
    (tmp_path / "arm.yaml").write_text(
        "name: arm3\ncenter: 0\njoints:\n  - {name: shoulder}\n  - {name: elbow, parent: shoulder}\n"
        "  - {name: wrist, parent: elbow}\n  - {name: hand, parent: wrist}\n"
    )
    lay = load_layout_file(tmp_path / "arm.yaml")
    spec = derive_spec(lay)
    assert spec.lad_triplets == ((1, 2, 0), (2, 3, 1))
    assert spec.jdd_pairs == ((1, 3),)
    x = np.random.default_rng(4).normal(size=(3, 9, 4, 1)).astype(np.float32)
    assert Descriptors(lay.to_dict(), descriptors=["JDD", "LAD"])(x).shape == (3, 112, 112, 2)
    (tmp_path / "spec.yaml").write_text(
        "layout: arm3\ngraph_edges: [[0, 1], [1, 2], [2, 3]]\nbones: [[0, 1]]\njdd_pairs: [[0, 3]]\nlad_triplets: [[1, 0, 9]]\n"
    )
    with pytest.raises(ValueError, match=r"lad_triplets\[0\] has joint index 9"):
        load_descriptor_spec(tmp_path / "spec.yaml", lay)


def test_png_export(tmp_path):
    t = Descriptors("ucla20", descriptors=list(DESCRIPTORS))
    paths = save_pngs(t.images(np.random.default_rng(5).normal(size=(3, 20, 20, 1))), tmp_path, "s0")
    assert sorted(p.name for p in paths) == sorted(f"s0_{d}.png" for d in DESCRIPTORS)
