"""`predict --axes`: arrays in the PYSKL [M, T, V, C] order (or any other), with V checked against the checkpoint's layout."""

import numpy as np
import pytest

from skelar.data.samples import read_samples
from skelar.layouts import get_layout


def _read(path, layout="ucla20", channels=3, axes=None):
    return next(read_samples(path, get_layout(layout), channels, axes=axes)).data


def test_axes_reorder_and_joint_check(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 10, 20, 2)).astype(np.float32)  # (C, T, V, M)
    np.save(tmp_path / "pyskl.npy", x.transpose(3, 1, 2, 0))  # (M, T, V, C)
    np.testing.assert_array_equal(_read(tmp_path / "pyskl.npy", axes="mtvc"), x)
    np.save(tmp_path / "one.npy", x[..., 0].transpose(1, 0, 2))  # (T, C, V)
    np.testing.assert_array_equal(_read(tmp_path / "one.npy", axes="TCV")[..., 0], x[..., 0])
    with pytest.raises(ValueError, match=r"20 joints on the V axis but layout 'ntu25' has 25; a .npy array cannot tell its joint order"):
        _read(tmp_path / "pyskl.npy", "ntu25", axes="MTVC")
    with pytest.raises(ValueError, match="array has 4 axes"):
        _read(tmp_path / "pyskl.npy", axes="TVC")
    with pytest.raises(ValueError, match="--axes: must be a permutation of CTV or CTVM"):
        _read(tmp_path / "pyskl.npy", axes="MTVX")
    with pytest.raises(ValueError, match="give the stored order with --axes, e.g. --axes MTVC"):
        _read(tmp_path / "pyskl.npy")
