"""NTU pipeline B (energy selection + pre_normalization) and the AS-GCN/LTSCL feeder, against ``asgcn_ntu``."""

from __future__ import annotations

import numpy as np
import pytest

from skelar.preprocess.ntu_energy import axis_angle_matrix, energy_pipeline, pre_normalize, read_energy_bodies
from skelar.transforms import AsgcnDownsample, RepeatPad, repeat_pad_persons

_CACHE: dict = {}


@pytest.fixture
def asgcn(shared):
    path = shared("parity", "pipelines", "asgcn_ntu.npz")
    if "asgcn" not in _CACHE:
        _CACHE["asgcn"] = dict(np.load(path, allow_pickle=False))
    return _CACHE["asgcn"]


@pytest.fixture
def skeleton_files(shared):
    real = shared("data", "ntu-samples", "skeletons")
    synth = shared("data", "ntu-synthetic")
    return {p.stem: p for d in (real, synth) for p in sorted(d.glob("*.skeleton"))}


def test_reader_selection_and_prenorm_on_every_sample(asgcn, skeleton_files):
    from skelar.formats.ntu_skeleton import read_ntu_skeleton

    for name in asgcn["samples"]:
        ske = read_ntu_skeleton(skeleton_files[name])
        data, energy, slots = read_energy_bodies(ske)
        np.testing.assert_array_equal(slots, asgcn[f"{name}/body_slots"], err_msg=name)
        ref = asgcn[f"{name}/read_xyz"]
        assert data.shape == ref.shape
        # the reader keeps float32 joints: equal after the float32 rounding the pipeline applies anyway
        np.testing.assert_array_equal(data.astype(np.float32), ref.astype(np.float32), err_msg=name)
        np.testing.assert_allclose(energy, asgcn[f"{name}/energy"], rtol=1e-6, atol=1e-9, err_msg=name)
        out = energy_pipeline(ske)
        prenorm = asgcn[f"{name}/prenorm"]
        assert out.dtype == np.float32 and out.shape == (3, ske.num_frames, 25, 2)
        np.testing.assert_array_equal(out, prenorm[:, : out.shape[1]], err_msg=name)
        assert not prenorm[:, out.shape[1]:].any()


def test_prenorm_from_reference_reader_output_is_exact(asgcn):
    for name in asgcn["samples"]:
        ref = asgcn[f"{name}/read_xyz"]
        buf = np.zeros((3, 300, 25, 2), np.float32)
        buf[:, : ref.shape[1]] = ref
        np.testing.assert_array_equal(pre_normalize(buf), asgcn[f"{name}/prenorm"], err_msg=name)


def test_feeder_repeat_pad_and_downsampling_for_recorded_offsets(asgcn):
    down = AsgcnDownsample(window=300, future=10, num_frames=50)
    rng = np.random.default_rng(0)
    for name in asgcn["samples"]:
        x = asgcn[f"{name}/prenorm"]
        np.testing.assert_array_equal(repeat_pad_persons(x), asgcn[f"{name}/feeder/repeat_pad"], err_msg=name)
        np.testing.assert_array_equal(RepeatPad(300)(x[:, :250]), repeat_pad_persons(np.concatenate([x[:, :250], np.zeros((3, 50, 25, 2), np.float32)], 1)))
        u = asgcn[f"{name}/feeder/rs_uniform"]
        length = down.valid_length(x)
        assert (down.draw(length, rng) is None) == (len(u) == 0), name  # a draw happens exactly when the reference drew
        rs = int(u[0]) if len(u) else None
        np.testing.assert_array_equal(down.apply(x, rs), asgcn[f"{name}/feeder/dnsp"], err_msg=name)
        trimmed = x[:, : down.valid_length(x) + int(np.argmax(x.any(axis=(0, 2, 3))))]  # stored samples have no zero tail
        np.testing.assert_array_equal(down.apply(trimmed, rs), asgcn[f"{name}/feeder/dnsp"], err_msg=name)


def test_split_constants(asgcn):
    from skelar.preprocess.ntu_protocols import name_fields, protocol_is_train

    fields = name_fields(list(asgcn["split/names"]))
    for proto in ("xsub", "xview"):
        np.testing.assert_array_equal(protocol_is_train(fields, "ntu60", proto), asgcn[f"split/asgcn/{proto}_train"])
    np.testing.assert_array_equal(protocol_is_train(fields, "ntu60", "xsub"), asgcn["split/ltscl/xsub_train"])
    # LTSCL's camera list [2, 4, ..., 32] leaves only camera 2 for training on NTU60 (a reference bug)
    np.testing.assert_array_equal(fields["camera"] == 2, asgcn["split/ltscl/xview_train"])


def _posed_person(rng, frames):
    """Random joints around a body whose spine (0->1) and shoulder line (8->4) are perpendicular, randomly rotated."""
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    pose = rng.normal(scale=0.2, size=(25, 3))
    pose[0], pose[1] = (0.0, 0.0, 0.0), (0.0, 0.0, 0.3)
    pose[4], pose[8] = (-0.2, 0.1, 0.4), (0.2, 0.1, 0.4)
    seq = pose[None] + rng.normal(scale=0.01, size=(frames, 25, 3))
    seq[0, [0, 1, 4, 8]] = pose[[0, 1, 4, 8]]
    return (seq @ q.T + rng.normal(size=3)).transpose(2, 0, 1).astype(np.float32)  # (3, T, 25)


def test_pad_null_frames_variant():
    rng = np.random.default_rng(0)
    x = np.zeros((3, 12, 25, 2), np.float32)
    x[:, 2:6, :, 0] = _posed_person(rng, 4)  # person 0: empty start, frames 2..5, empty tail
    x[:, 0:3, :, 1] = rng.normal(size=(3, 3, 25)) + 1  # person 1: frames 0..2
    padded = repeat_pad_persons(x)
    np.testing.assert_array_equal(padded[:, :4, :, 0], x[:, 2:6, :, 0])  # shifted to the front
    np.testing.assert_array_equal(padded[:, 4:8, :, 0], x[:, 2:6, :, 0])  # then tiled
    np.testing.assert_array_equal(padded[:, 8:12, :, 0], x[:, 2:6, :, 0])
    np.testing.assert_array_equal(padded[:, 3:6, :, 1], x[:, 0:3, :, 1])
    out = pre_normalize(x, pad_null_frames=True)
    assert out[..., 0].any(axis=(0, 2)).all()  # no empty frame left for person 0
    np.testing.assert_allclose(out[:, :, 1, 0], 0, atol=1e-6)  # per-frame centring on SpineMid
    spine = out[:, 0, 1, 0] - out[:, 0, 0, 0]
    shoulders = out[:, 0, 8, 0] - out[:, 0, 4, 0]
    np.testing.assert_allclose(spine / np.linalg.norm(spine), [0, 0, 1], atol=1e-5)  # spine along +z
    np.testing.assert_allclose(shoulders / np.linalg.norm(shoulders), [1, 0, 0], atol=1e-5)  # shoulders along +x
    # without the padding step leading/trailing empty frames stay empty
    plain = pre_normalize(x)
    assert not plain[:, :2, :, 0].any() and not plain[:, 6:, :, 0].any()
    assert plain[:, 2:6, :, 0].any(axis=(0, 2)).all()


def test_axis_angle_matrix_is_a_rotation():
    r = axis_angle_matrix(np.array([1.0, 2.0, -0.5]), 0.7)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(r), 1.0)
    np.testing.assert_array_equal(axis_angle_matrix(np.zeros(3), 1.0), np.eye(3))
    with pytest.raises(ValueError, match=r"\(3, T, V, M\)"):
        pre_normalize(np.zeros((2, 5, 25, 2)))


def test_prepare_ntu60_energy_pipeline_cli(asgcn, skeleton_files, tmp_path):
    import shutil

    from skelar.cli.main import main
    from skelar.data import PreparedDataset

    src = tmp_path / "skeletons"
    src.mkdir()
    for p in skeleton_files.values():
        shutil.copy(p, src / p.name)
    out = tmp_path / "ntu60_energy"
    assert main(["prepare", "ntu60", "--src", str(src), "--out", str(out), "--pipeline", "energy", "--no-progress"]) == 0
    ds = PreparedDataset(out)
    assert ds.preprocessing["pipeline"] == "energy" and len(ds) == len(asgcn["samples"])
    for i, name in enumerate(ds.names):
        ref = asgcn[f"{name}/prenorm"]
        np.testing.assert_array_equal(ds[i], ref[:, : ds.lengths[i]], err_msg=str(name))
