"""Hostile or damaged .npy/.npz files: sizes checked before allocating, one-line errors naming the file."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from skelar.store.npy import load_npy, load_npz
from skelar.store.prepared import PreparedDataset, PreparedWriter, SampleMeta


def _header(shape, descr="<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


@pytest.mark.parametrize("mmap", [False, True])
def test_declared_shape_larger_than_the_file_is_refused(tmp_path, mmap):
    p = tmp_path / "huge.npy"
    p.write_bytes(_header((100000, 100000)) + bytes(64))  # 40 GB declared, 64 bytes held
    with pytest.raises(ValueError, match=r"huge\.npy: the header declares shape \(100000, 100000\) of float32 "
                                         r"\(40000000000 bytes\) but the file holds 64 bytes"):
        load_npy(p, mmap=mmap)


def test_plain_arrays_still_load(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "a.npy", a)
    np.testing.assert_array_equal(load_npy(tmp_path / "a.npy"), a)
    np.testing.assert_array_equal(load_npy(tmp_path / "a.npy", mmap=True), a)
    np.savez(tmp_path / "z.npz", a=a, b=np.array(["x", "yy"]))
    z = load_npz(tmp_path / "z.npz")
    np.testing.assert_array_equal(z["a"], a) and list(z["b"]) == ["x", "yy"]
    np.savez_compressed(tmp_path / "c.npz", a=a)
    np.testing.assert_array_equal(load_npz(tmp_path / "c.npz")["a"], a)


def test_object_arrays_and_garbage_are_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"obj\.npy: holds Python objects"):
        load_npy(tmp_path / "obj.npy")
    (tmp_path / "junk.npy").write_bytes(b"hello world")
    with pytest.raises(ValueError, match=r"junk\.npy: not a \.npy array"):
        load_npy(tmp_path / "junk.npy")
    (tmp_path / "junk.npz").write_bytes(b"hello world")
    with pytest.raises(ValueError, match=r"junk\.npz: not a readable \.npz archive"):
        load_npz(tmp_path / "junk.npz")


def test_npz_member_declaring_more_than_it_holds_is_refused(tmp_path):
    p = tmp_path / "bomb.npz"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("name.npy", _header((10**6, 10**6), "<i8") + bytes(16))
    with pytest.raises(ValueError, match=r"bomb\.npz \(member name\.npy\): the header declares shape"):
        load_npz(p)


def _dataset(root):
    w = PreparedWriter(root, "ntu25", ["a", "b"], num_channels=3, num_persons=1)
    for i in range(3):
        w.add(np.ones((3, 5, 25, 1), np.float32), SampleMeta(f"s{i}", i % 2))
    w.set_split("p", "train", [0, 1])
    w.set_split("p", "test", [2])
    w.close()
    return root


def test_truncated_prepared_frames_name_the_file(tmp_path):
    root = _dataset(tmp_path / "ds")
    data = (root / "frames.npy").read_bytes()
    (root / "frames.npy").write_bytes(data[: len(data) // 2])
    for mmap in (True, False):
        with pytest.raises(ValueError, match=r"ds/frames\.npy: the header declares shape \(15, 3, 25, 1\) .*\(truncated"):
            PreparedDataset(root, mmap=mmap)


def test_prepared_npz_members_are_bounded(tmp_path):
    root = _dataset(tmp_path / "ds")
    with zipfile.ZipFile(root / "splits.npz", "w") as zf:
        zf.writestr("p/train.npy", _header((10**12,), "<i8"))
    with pytest.raises(ValueError, match=r"splits\.npz \(member p/train\.npy\): the header declares shape \(1000000000000,\)"):
        PreparedDataset(root)
