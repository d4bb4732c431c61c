"""PYSKL / MMAction2 annotation pickles: restricted reading, writing, and the prepare/export round trip."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from skelar.cli.main import main
from skelar.formats.pyskl import PysklAnnotation, load_pyskl, restricted_loads, save_pyskl, split_name_to_part
from skelar.preprocess.custom import export_pyskl, prepare_pyskl


def _ntu_like(tmp_path, dtype=np.float16):
    """A small NTU-style 3D annotation file: 25 joints, one- and two-person clips, NTU names."""
    rng = np.random.default_rng(0)
    anns, names = [], []
    for p in (1, 2, 3, 4):
        for a in (1, 2, 50):
            name = f"S001C00{1 + p % 3}P{p:03d}R001A{a:03d}"
            m = 2 if a == 50 else 1
            kp = rng.normal(size=(m, int(rng.integers(5, 15)), 25, 3)).astype(dtype)
            anns.append(PysklAnnotation(name, a - 1 if a < 50 else 2, kp))
            names.append(name)
    split = {"xsub_train": [n for n in names if "P001" in n or "P002" in n or "P003" in n],
             "xsub_val": [n for n in names if "P004" in n]}
    path = tmp_path / "ntu_like.pkl"
    save_pyskl(path, anns, split)
    return path, anns, split


def test_round_trip_prepare_export(tmp_path):
    path, anns, split = _ntu_like(tmp_path)
    ds = prepare_pyskl(path, tmp_path / "prep", layout="ntu25", trust_pickle=True, classes=["a1", "a2", "a50"])
    assert len(ds) == len(anns) and ds.num_persons == 2 and ds.num_channels == 3
    for i, a in enumerate(anns):
        x = ds[i]
        assert ds.names[i] == a.frame_dir and ds.labels[i] == a.label
        np.testing.assert_array_equal(x[..., : a.keypoint.shape[0]], a.keypoint.astype(np.float32).transpose(3, 1, 2, 0))
        assert not x[..., a.keypoint.shape[0]:].any()
    train, val, test = (ds.split("xsub", p) for p in ("train", "val", "test"))
    assert sorted(ds.names[np.union1d(train, val)]) == sorted(split["xsub_train"])  # pyskl 'val' is the test part
    assert sorted(ds.names[test]) == sorted(split["xsub_val"])
    assert ds.sample_meta(0).subject == 1 and ds.sample_meta(0).setup == 1  # NTU names give metadata
    out = tmp_path / "back.pkl"
    assert export_pyskl(tmp_path / "prep", out, dtype="float16") == len(anns)
    back = load_pyskl(out, trust_pickle=True)
    assert {k: sorted(v) for k, v in back.split.items()} == {k: sorted(v) for k, v in split.items()}
    for a, b in zip(anns, back.annotations):
        assert (a.frame_dir, a.label, a.total_frames) == (b.frame_dir, b.label, b.total_frames)
        assert b.keypoint.dtype == np.float16
        np.testing.assert_array_equal(a.keypoint, b.keypoint)  # persons never present are dropped again


def test_2d_keypoints_with_scores(tmp_path):
    rng = np.random.default_rng(1)
    anns = [PysklAnnotation(f"clip{i}", i % 2, rng.uniform(0, 1000, size=(1, 6, 17, 2)).astype(np.float32),
                            rng.uniform(size=(1, 6, 17)).astype(np.float32), (1080, 1920)) for i in range(6)]
    save_pyskl(tmp_path / "2d.pkl", anns, {"train": ["clip0", "clip1", "clip2", "clip3"], "val": ["clip4", "clip5"]})
    ds = prepare_pyskl(tmp_path / "2d.pkl", tmp_path / "p2d", layout="coco17", trust_pickle=True, val_fraction=0)
    assert ds.num_channels == 3 and ds.manifest["channel_names"] == ["x", "y", "score"]
    np.testing.assert_array_equal(ds[4][2, :, :, 0], anns[4].keypoint_score[0])
    assert sorted(ds.names[ds.split("default", "test")]) == ["clip4", "clip5"]
    export_pyskl(tmp_path / "p2d", tmp_path / "2d_back.pkl")
    back = load_pyskl(tmp_path / "2d_back.pkl", trust_pickle=True)
    np.testing.assert_array_equal(back.annotations[3].keypoint, anns[3].keypoint)
    np.testing.assert_array_equal(back.annotations[3].keypoint_score, anns[3].keypoint_score)
    assert back.annotations[3].img_shape == (1080, 1920)
    norm = prepare_pyskl(tmp_path / "2d.pkl", tmp_path / "p2dn", layout="coco17", trust_pickle=True, normalize_2d=True)
    np.testing.assert_allclose(norm[0][0, ..., 0], (anns[0].keypoint[0, ..., 0] - 960) / 960, rtol=1e-6)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_code(tmp_path):
    for payload in (_Evil(), {"annotations": [_Evil()]}, [np.zeros(2), eval]):
        for proto in (2, 4):
            with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
                restricted_loads(pickle.dumps(payload, protocol=proto))
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"split": {}, "annotations": [_Evil()]}))
    with pytest.raises(ValueError, match=r"evil\.pkl: refusing to load global posix\.system|evil\.pkl: refusing to load global nt\.system"):
        load_pyskl(p, trust_pickle=True)
    # plain containers, numpy arrays and numpy scalars of any pickle protocol are fine
    obj = {"a": np.arange(6, dtype=np.float16).reshape(2, 3), "b": np.int64(3), "c": (1, 2), "d": {1, 2}, "e": b"x"}
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        back = restricted_loads(pickle.dumps(obj, protocol=proto))
        np.testing.assert_array_equal(back["a"], obj["a"])
        assert back["b"] == 3 and back["d"] == {1, 2}


def test_trust_flag_required_and_schema_errors(tmp_path):
    path, _, _ = _ntu_like(tmp_path)
    with pytest.raises(ValueError, match="refusing to read a pickle without trust_pickle"):
        load_pyskl(path)
    bad = [
        ({"annotations": [{"frame_dir": "a", "label": 0}]}, r"annotations\[0\] \(a\): missing key 'keypoint'"),
        ({"annotations": [{"frame_dir": "a", "label": 0, "keypoint": np.zeros((2, 5, 25))}]}, r"key 'keypoint' must have shape \[M, T, V, C\]"),
        ({"annotations": [{"frame_dir": "a", "label": -1, "keypoint": np.zeros((1, 5, 25, 3))}]}, r"key 'label' must be a non-negative int"),
        ({"annotations": [{"frame_dir": "a", "label": 0, "total_frames": 9, "keypoint": np.zeros((1, 5, 25, 3))}]}, r"'total_frames' is 9"),
        ({"split": {"xsub_train": ["zz"]}, "annotations": [{"frame_dir": "a", "label": 0, "keypoint": np.zeros((1, 5, 25, 3))}]}, r"split\['xsub_train'\] names 1 clip"),
        ({"split": {}}, "expected a dict with key 'annotations'"),
    ]
    for doc, pattern in bad:
        p = tmp_path / "bad.pkl"
        p.write_bytes(pickle.dumps(doc))
        with pytest.raises(ValueError, match=r"bad\.pkl: .*" + pattern):
            load_pyskl(p, trust_pickle=True)
    p.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match=r"bad\.pkl: not a readable pickle"):
        load_pyskl(p, trust_pickle=True)
    with pytest.raises(ValueError, match="keypoints have 25 joints but layout 'coco17' has 17"):
        prepare_pyskl(path, tmp_path / "y", layout="coco17", trust_pickle=True)


def test_split_names():
    assert split_name_to_part("xsub_train") == ("xsub", "train")
    assert split_name_to_part("xsub_val") == ("xsub", "test")
    assert split_name_to_part("xsub_val", has_test=True) == ("xsub", "val")
    assert split_name_to_part("train1") == ("split1", "train")
    assert split_name_to_part("test3") == ("split3", "test")
    assert split_name_to_part("val") == ("default", "test")
    with pytest.raises(ValueError, match="cannot tell train from test"):
        split_name_to_part("everything")


# -- hostile sizes and bad values (issue 14, items 3, 9, 10) --------------------------------------

class _Alloc:
    """A pickle that asks a safe builtin (or NumPy's reconstruction) to allocate a huge object."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


@pytest.mark.parametrize("payload", [
    _Alloc(bytes, 10**10), _Alloc(bytearray, 10**10), _Alloc(list, range(10**10)), _Alloc(set, range(10**10)),
    _Alloc(np._core.multiarray._reconstruct, np.ndarray, (10**10,), b"b"),
    _Alloc(np._core.multiarray._reconstruct, np.ndarray, (10,), np.dtype(("f4", (10**8,)))),
], ids=["bytes", "bytearray", "list-range", "set-range", "reconstruct", "reconstruct-subarray"])
def test_restricted_unpickler_bounds_sizes_by_the_file(payload):
    for proto in (3, 4):  # (protocol 2 names range 'xrange', refused as an unknown global)
        with pytest.raises(pickle.UnpicklingError, match="refusing .* of size .*larger than the file"):
            restricted_loads(pickle.dumps({"annotations": [payload]}, protocol=proto))


def _one(tmp_path, **ann) -> "os.PathLike":
    a = {"frame_dir": "clip0", "label": 0, "keypoint": np.zeros((1, 5, 25, 3), np.float32), **ann}
    p = tmp_path / "one.pkl"
    p.write_bytes(pickle.dumps({"split": {}, "annotations": [a]}))
    return p


def test_huge_label_is_refused_before_allocating(tmp_path):
    p = _one(tmp_path, label=10**9)
    with pytest.raises(ValueError, match=r"one\.pkl: annotations\[0\] \(clip0\): key 'label' is 1000000000, beyond"):
        load_pyskl(p, trust_pickle=True)
    assert main(["prepare", "pyskl", "--src", str(p), "--out", str(tmp_path / "out"), "--layout", "ntu25", "--trust-pickle"]) == 2
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value,what", [(np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"), (-np.inf, "NaN or infinite"),
                                        (1e300, "values beyond the float32 range")])
@pytest.mark.parametrize("key", ["keypoint", "keypoint_score"])
def test_non_finite_keypoints_are_refused(tmp_path, key, value, what):
    kp = np.zeros((1, 5, 17, 2), np.float64)
    score = np.ones((1, 5, 17), np.float64)
    (kp if key == "keypoint" else score)[0, 3, 2, ...] = value
    p = _one(tmp_path, keypoint=kp, keypoint_score=score)
    with pytest.raises(ValueError, match=rf"one\.pkl: annotations\[0\] \(clip0\): key '{key}' contains {what}"):
        load_pyskl(p, trust_pickle=True)


def test_complex_keypoints_are_refused(tmp_path):
    p = _one(tmp_path, keypoint=np.zeros((1, 5, 25, 3), np.complex64))
    with pytest.raises(ValueError, match=r"one\.pkl: .*key 'keypoint' must hold real numbers, got dtype complex64"):
        load_pyskl(p, trust_pickle=True)


@pytest.mark.parametrize("img", [("tall", 10), (0, 5), 7, (1,)])
def test_bad_img_shape_names_the_file(tmp_path, img):
    p = _one(tmp_path, img_shape=img)
    with pytest.raises(ValueError, match=r"one\.pkl: annotations\[0\] \(clip0\): key 'img_shape' must be \(height, width\)"):
        load_pyskl(p, trust_pickle=True)


def test_overlapping_splits_name_the_file_and_keys(tmp_path):
    path, anns, split = _ntu_like(tmp_path)
    split["xsub_val"] = split["xsub_val"] + split["xsub_train"][:1]
    save_pyskl(path, anns, split)
    with pytest.raises(ValueError, match=r"ntu_like\.pkl: protocol 'xsub': split keys 'xsub_train' and 'xsub_val' share 1 sample"):
        prepare_pyskl(path, tmp_path / "prep", layout="ntu25", trust_pickle=True)
    split["weird"] = split.pop("xsub_val")
    save_pyskl(path, anns, split)
    with pytest.raises(ValueError, match=r"ntu_like\.pkl: split 'weird': cannot tell train from test"):
        prepare_pyskl(path, tmp_path / "prep", layout="ntu25", trust_pickle=True)
